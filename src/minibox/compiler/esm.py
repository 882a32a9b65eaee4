"""ES modules to CommonJS at build time, line for line, with Babel's interop (as WeChat's build does).

`transform(path, src, tokens)` returns the module's body with every original line on the same line,
plus a `header`: code the wrapper puts on its own first line (the `__mbDefine(...) {` line), so errors
still name the original file:line. What each form becomes (`_mb$N` is the module's N-th source):

- `import 'm'`                    -> header `var _mb$0 = require("m");`, the statement blanked
- `import x from 'm'`             -> header `var _mb$0 = require("m"), _mb$0d = __mbInterop.def(_mb$0);`,
                                     each reference to `x` becomes `_mb$0d.default` (live)
- `import {a as b} from 'm'`      -> references to `b` become `_mb$0.a` (live; a call `(0, _mb$0.a)(...)`)
- `import * as ns from 'm'`       -> header `var ns = __mbInterop.ns(_mb$0);`
- `export const|let|var|function|class|async function|function* x` -> the `export` keyword blanked and a
  getter `exports.x -> x` defined in the header (live; a hoisted function is there before the body runs)
- `export default function|class [name]` -> the declaration kept (named `_mb$default` if anonymous)
- `export default expr`          -> `var _mb$default = expr` and a getter `default`
- `export {a as b}`               -> blanked, a getter `b -> a`
- `export {a as b} from 'm'`      -> a getter `b -> _mb$0.a`
- `export * from 'm'`             -> `__mbInterop.star(exports, _mb$0)` (getters for the keys not exported here)
- `export * as ns from 'm'`       -> a getter `ns -> __mbInterop.ns(_mb$0)`
- every module with import/export gets `"use strict"` and `exports.__esModule = true`.
- `import('m')` (not supported by the sandbox) -> `__mbImport('m')`, a promise rejected with a clear error;
  `import.meta` -> `({})` with a warning.

All `require`s run in the header, before the body, as ES imports are evaluated before the module.
References to an import are rewritten only when the name is never declared again in the file (a
parameter, a `var`, ...); otherwise the import is a variable refreshed when its module finishes loading
(`__mbInterop.live`), which keeps circular imports working after load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .errors import CompileError, line_col
from .jstokens import Token

INTEROP = "__mbInterop"
DEFAULT_LOCAL = "_mb$default"
_IDENT_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")
#: Keywords before `(` that open a condition, not a parameter list.
_NOT_PARAMS_BEFORE = frozenset(
    {"if", "while", "for", "switch", "with", "return", "typeof", "void", "delete", "await", "yield",
     "in", "of", "new", "throw", "case", "instanceof", "else", "do"}
)
#: Words that start a statement: after a line break they end the previous one (ASI).
_STATEMENT_WORDS = frozenset(
    {"export", "import", "const", "let", "var", "function", "class", "if", "for", "while", "do", "return",
     "switch", "try", "throw", "break", "continue", "async"}
)


#: Words after which an expression continues on the next line.
_OPERATOR_WORDS = frozenset(
    {"typeof", "new", "void", "delete", "in", "of", "instanceof", "await", "yield", "case", "else", "do",
     "return", "throw", "extends"}
)


class EsmSyntaxError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


@dataclass
class EsmOutput:
    header: str
    body: str
    is_esm: bool
    warnings: list[CompileError] = field(default_factory=list)
    #: (offset in `header`, source line) of each `require` the header makes: an error it throws (a
    #: module that is not there) names the line of its import statement
    header_lines: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class _Source:
    var: str
    spec: str
    line: int
    needs_default: bool = False


@dataclass
class _Binding:
    local: str
    source: _Source
    imported: str  # "default", a name, or "*"

    def expr(self) -> str:
        if self.imported == "*":
            return self.local
        if self.imported == "default":
            return f"{self.source.var}d.default"
        return _member(self.source.var, self.imported)


def _member(obj: str, name: str) -> str:
    return f"{obj}.{name}" if _IDENT_NAME.match(name) else f"{obj}[{json.dumps(name)}]"


def _js_string(tok: Token) -> str:
    raw = tok.value[1:-1]
    if "\\" not in raw:
        return raw
    try:
        return json.loads('"' + raw.replace('"', '\\"').replace("\\'", "'") + '"')
    except ValueError:
        return raw


class _Module:
    def __init__(self, path: str, src: str, toks: list[Token]) -> None:
        self.path = path
        self.src = src
        self.t = toks
        n = len(toks)
        self.match = [-1] * n
        self.encl = [-1] * n
        stack: list[int] = []
        for i, tok in enumerate(toks):
            self.encl[i] = stack[-1] if stack else -1
            if tok.kind != "punct":
                continue
            if tok.value in ("(", "[", "{"):
                stack.append(i)
            elif tok.value in (")", "]", "}") and stack:
                j = stack.pop()
                self.match[i], self.match[j] = j, i
                self.encl[i] = stack[-1] if stack else -1
        self.edits: list[tuple[int, int, str]] = []
        self.blanked: list[tuple[int, int]] = []  # token index ranges [a, b) removed from the body
        self.sources: dict[str, _Source] = {}
        self.order: list[str] = []  # header statements, in source order
        self.bindings: dict[str, _Binding] = {}
        self.exports: dict[str, str] = {}  # exported name -> local name (or "@expr" for a ready expression)
        self.warnings: list[CompileError] = []
        self.header_lines: list[tuple[int, int]] = []

    # -- token helpers --------------------------------------------------------------------------------
    def v(self, i: int) -> str:
        return self.t[i].value if 0 <= i < len(self.t) else ""

    def is_punct(self, i: int, value: str) -> bool:
        return 0 <= i < len(self.t) and self.t[i].kind == "punct" and self.t[i].value == value

    def is_word(self, i: int, value: str) -> bool:
        return 0 <= i < len(self.t) and self.t[i].kind == "ident" and self.t[i].value == value

    def newline_before(self, i: int) -> bool:
        if i <= 0 or i >= len(self.t):
            return True
        return "\n" in self.src[self.t[i - 1].end : self.t[i].start]

    def fail(self, i: int, message: str) -> EsmSyntaxError:
        off = self.t[i].start if i < len(self.t) else len(self.src)
        return EsmSyntaxError(off, message)

    def source(self, spec: str, at: int) -> _Source:
        src = self.sources.get(spec)
        if src is None:
            src = _Source(f"_mb${len(self.sources)}", spec, line_col(self.src, self.t[at].start)[0])
            self.sources[spec] = src
            self.order.append(f"@require:{spec}")
        return src

    def expect_string(self, i: int) -> str:
        if i >= len(self.t) or self.t[i].kind != "str":
            raise self.fail(i, "a module specifier string is expected here")
        return _js_string(self.t[i])

    def end_statement(self, j: int) -> int:
        """Skip an import assertion/attributes clause and a `;`; return the index after the statement."""
        attributes = self.is_word(j, "with") or self.is_word(j, "assert")
        if attributes and self.is_punct(j + 1, "{") and not self.newline_before(j):
            j = self.match[j + 1] + 1
        if self.is_punct(j, ";"):
            j += 1
        return j

    def blank(self, a: int, b: int) -> None:
        """Remove tokens [a, b) from the body (a `;` keeps the statements around apart)."""
        start, end = self.t[a].start, self.t[b - 1].end
        text = self.src[start:end]
        self.edits.append((start, end, ";" + re.sub(r"[^\n\r\u2028\u2029]", " ", text[1:])))
        self.blanked.append((a, b))

    def blank_keyword(self, i: int) -> None:
        tok = self.t[i]
        self.edits.append((tok.start, tok.end, " " * (tok.end - tok.start)))
        self.blanked.append((i, i + 1))

    def specifiers(self, i: int) -> tuple[list[tuple[str, str]], int]:
        """`{ a, b as c, "x" as d }` at i: [(name, alias)], index after `}`."""
        close = self.match[i]
        if close < 0:
            raise self.fail(i, "unclosed {")
        out: list[tuple[str, str]] = []
        j = i + 1
        while j < close:
            tok = self.t[j]
            if tok.kind == "punct" and tok.value == ",":
                j += 1
                continue
            if tok.kind not in ("ident", "str"):
                raise self.fail(j, f"unexpected {tok.value!r} in an import/export list")
            name = _js_string(tok) if tok.kind == "str" else tok.value
            alias = name
            if self.is_word(j + 1, "as"):
                nxt = self.t[j + 2] if j + 2 < close else None
                if nxt is None or nxt.kind not in ("ident", "str"):
                    raise self.fail(j + 1, "a name is expected after `as`")
                alias = _js_string(nxt) if nxt.kind == "str" else nxt.value
                j += 3
            else:
                j += 1
            out.append((name, alias))
        return out, close + 1

    # -- statements -----------------------------------------------------------------------------------
    def parse_import(self, i: int) -> None:
        j = i + 1
        if j < len(self.t) and self.t[j].kind == "str":  # import 'side-effect'
            self.source(self.expect_string(j), i)
            self.blank(i, self.end_statement(j + 1))
            return
        default = ns = None
        named: list[tuple[str, str]] = []
        if j < len(self.t) and self.t[j].kind == "ident" and not (
            self.v(j) == "from" and j + 1 < len(self.t) and self.t[j + 1].kind == "str"
        ):
            default = self.v(j)
            j += 1
            if self.is_punct(j, ","):
                j += 1
        if self.is_punct(j, "*"):
            if not self.is_word(j + 1, "as") or j + 2 >= len(self.t) or self.t[j + 2].kind != "ident":
                raise self.fail(j, "`import *` needs `as name`")
            ns = self.v(j + 2)
            j += 3
        elif self.is_punct(j, "{"):
            named, j = self.specifiers(j)
        if not self.is_word(j, "from"):
            raise self.fail(j, "`from` is expected in an import declaration")
        src = self.source(self.expect_string(j + 1), i)
        self.blank(i, self.end_statement(j + 2))
        if default is not None:
            src.needs_default = True
            self.bindings[default] = _Binding(default, src, "default")
        if ns is not None:
            self.bindings[ns] = _Binding(ns, src, "*")
            self.order.append(f"var {ns} = {INTEROP}.ns({src.var});")
        for name, alias in named:
            if name == "default":
                src.needs_default = True
            self.bindings[alias] = _Binding(alias, src, name)

    def parse_export(self, i: int) -> None:
        j = i + 1
        word = self.v(j)
        if self.t[j].kind == "ident" and word == "default":
            k = j + 1
            fn = k + 1 if self.is_word(k, "async") and self.is_word(k + 1, "function") else k
            if self.is_word(fn, "function") or self.is_word(k, "class"):
                decl = self.is_word(k, "class")
                name_at = k + 1 if decl else (fn + 2 if self.is_punct(fn + 1, "*") else fn + 1)
                named = self.t[name_at].kind == "ident" and not (decl and self.v(name_at) == "extends")
                start = self.t[i].start
                self.edits.append((start, self.t[k].start, " " * (self.t[k].start - start)))
                if named:
                    self.exports["default"] = self.v(name_at)
                else:
                    before = self.t[name_at - 1]
                    self.edits.append((before.end, before.end, " " + DEFAULT_LOCAL))
                    self.exports["default"] = DEFAULT_LOCAL
            else:
                self.edits.append((self.t[i].start, self.t[j].end, f"var {DEFAULT_LOCAL} ="))
                self.exports["default"] = DEFAULT_LOCAL
            self.blanked.append((i, j + 1))
            return
        if word in ("var", "let", "const"):
            self.blank_keyword(i)
            for name in self.declared_names(j + 1):
                self.exports[name] = name
            return
        fn = j + 1 if word == "async" and self.is_word(j + 1, "function") else j
        if self.is_word(fn, "function") or word == "class":
            name_at = j + 1 if word == "class" else (fn + 2 if self.is_punct(fn + 1, "*") else fn + 1)
            if name_at >= len(self.t) or self.t[name_at].kind != "ident":
                raise self.fail(j, "an exported declaration needs a name")
            self.blank_keyword(i)
            self.exports[self.v(name_at)] = self.v(name_at)
            return
        if self.is_punct(j, "{"):
            specs, k = self.specifiers(j)
            if self.is_word(k, "from"):
                src = self.source(self.expect_string(k + 1), i)
                end = self.end_statement(k + 2)
                for name, alias in specs:
                    if name == "default":
                        src.needs_default = True
                    self.exports[alias] = "@" + _Binding(alias, src, name).expr()
            else:
                end = self.end_statement(k)
                for name, alias in specs:
                    self.exports[alias] = name
            self.blank(i, end)
            return
        if self.is_punct(j, "*"):
            alias = None
            k = j + 1
            if self.is_word(k, "as"):
                tok = self.t[k + 1] if k + 1 < len(self.t) else None
                if tok is None or tok.kind not in ("ident", "str"):
                    raise self.fail(k, "a name is expected after `as`")
                alias = _js_string(tok) if tok.kind == "str" else tok.value
                k += 2
            if not self.is_word(k, "from"):
                raise self.fail(k, "`from` is expected in `export *`")
            src = self.source(self.expect_string(k + 1), i)
            self.blank(i, self.end_statement(k + 2))
            if alias is None:
                self.order.append(f"{INTEROP}.star(exports, {src.var});")
            else:
                self.exports[alias] = f"@{INTEROP}.ns({src.var})"
            return
        raise self.fail(j, f"unexpected {word!r} after export")

    def declared_names(self, j: int) -> list[str]:
        """Names bound by the declarator list starting at token j (after var/let/const)."""
        names: list[str] = []
        n = len(self.t)
        while j < n:
            tok = self.t[j]
            if tok.kind == "ident":
                names.append(tok.value)
                j += 1
            elif tok.kind == "punct" and tok.value in ("{", "[") and self.match[j] > j:
                names += self.pattern_names(j, self.match[j])
                j = self.match[j] + 1
            else:
                break
            if self.is_punct(j, "="):
                j = self.skip_expression(j + 1)
            if self.is_punct(j, ","):
                j += 1
                continue
            break
        return names

    def skip_expression(self, j: int) -> int:
        n = len(self.t)
        start = j
        while j < n:
            tok = self.t[j]
            if tok.kind == "punct" and tok.value in (",", ";", ")", "]", "}"):
                return j
            if j > start and self.newline_before(j):
                prev = self.t[j - 1]
                if tok.kind == "ident" and tok.value in _STATEMENT_WORDS:
                    return j
                operand_end = prev.kind in ("ident", "num", "str", "regex") or (
                    prev.kind == "template" and prev.value.endswith("`")
                ) or prev.value in (")", "]", "}")
                if operand_end and tok.kind in ("ident", "num", "str") and prev.value not in (
                    "typeof", "new", "void", "delete", "in", "of", "instanceof", "await", "yield"
                ):
                    return j
            if tok.kind == "punct" and tok.value in ("(", "[", "{") and self.match[j] > j:
                j = self.match[j] + 1
                continue
            j += 1
        return j

    def pattern_names(self, a: int, b: int) -> list[str]:
        names = []
        for k in range(a + 1, b):
            tok = self.t[k]
            if tok.kind != "ident":
                continue
            if self.v(k - 1) in ("{", ",", ":", "[", "...") and self.v(k + 1) in (",", "}", "]", "="):
                names.append(tok.value)
        return names

    # -- scope check and reference rewriting --------------------------------------------------------
    def param_spans(self) -> list[tuple[int, int]]:
        spans = []
        for i, tok in enumerate(self.t):
            if tok.kind != "punct" or tok.value != "(" or self.match[i] < 0:
                continue
            close = self.match[i]
            prev = self.t[i - 1] if i > 0 else None
            after = self.t[close + 1] if close + 1 < len(self.t) else None
            params = (
                (after is not None and after.value == "=>")
                or (prev is not None and prev.value in ("function", "catch"))
                or (
                    prev is not None
                    and prev.kind == "ident"
                    and (
                        self.is_word(i - 2, "function")
                        or (self.is_punct(i - 2, "*") and self.is_word(i - 3, "function"))
                    )
                )
                or (
                    after is not None
                    and after.value == "{"
                    and prev is not None
                    and (prev.kind in ("ident", "str", "num") or prev.value == "]")
                    and prev.value not in _NOT_PARAMS_BEFORE
                )
            )
            if params:
                spans.append((i, close))
        return spans

    def shadowed(self, names: set[str]) -> set[str]:
        """Imported names declared again somewhere in the file (in any scope)."""
        out: set[str] = set()
        inside = [False] * len(self.t)
        for a, b in self.param_spans():
            for k in range(a + 1, b):
                inside[k] = True
        removed = self._removed_mask()
        for k, tok in enumerate(self.t):
            if tok.kind != "ident" or tok.value not in names or removed[k]:
                continue
            prev, nxt = self.v(k - 1), self.v(k + 1)
            if self.is_punct(k - 1, ".") or self.is_punct(k - 1, "?.") or self.is_punct(k - 1, "#"):
                continue
            if (
                inside[k]
                or prev in ("var", "let", "const", "function", "class", "catch")
                or (prev == "*" and self.v(k - 2) == "function")
                or nxt == "=>"
                or (prev == "," and nxt in ("=", ";"))
            ):
                out.add(tok.value)
                continue
            # destructuring after var/let/const
            e = self.encl[k]
            while e >= 0:
                if self.v(e) in ("{", "[") and self.v(e - 1) in ("var", "let", "const"):
                    out.add(tok.value)
                    break
                e = self.encl[e]
        return out

    def _removed_mask(self) -> list[bool]:
        mask = [False] * len(self.t)
        for a, b in self.blanked:
            for k in range(a, b):
                mask[k] = True
        return mask

    def rewrite_references(self, rewrite: dict[str, str]) -> None:
        removed = self._removed_mask()
        for k, tok in enumerate(self.t):
            if tok.kind != "ident" or tok.value not in rewrite or removed[k]:
                continue
            prev, nxt = self.v(k - 1), self.v(k + 1)
            prev_punct = k > 0 and self.t[k - 1].kind == "punct"
            if prev_punct and prev in (".", "?.", "#"):
                continue
            if prev in ("break", "continue"):
                continue
            in_braces = self.encl[k] >= 0 and self.v(self.encl[k]) == "{"
            if in_braces and prev in ("{", ",") and nxt == ":" and prev_punct:
                continue  # an object key
            if (
                in_braces
                and nxt == "("
                and self.match[k + 1] > k
                and self.is_punct(self.match[k + 1] + 1, "{")
                and (prev in ("{", ",", ";", "}", "*", "static", "async", "get", "set") or self.newline_before(k))
            ):
                continue  # a method name
            if in_braces and nxt == "=" and prev in ("{", ";", "}"):
                continue  # a class field
            if in_braces and self.is_class_body(self.encl[k]) and self.member_start(k):
                continue  # a class member's name
            expr = rewrite[tok.value]
            if in_braces and prev_punct and prev in ("{", ",") and nxt in ("}", ","):
                self.edits.append((tok.start, tok.end, f"{tok.value}: {expr}"))  # shorthand property
            elif nxt == "(" or (k + 1 < len(self.t) and self.t[k + 1].kind == "template"):
                # a line now starting with `(` must not continue the previous one (ASI, as before)
                semi = ";" if self.newline_before(k) and k > 0 and self.ends_expression(k - 1) else ""
                self.edits.append((tok.start, tok.end, f"{semi}(0, {expr})"))
            else:
                self.edits.append((tok.start, tok.end, expr))

    def ends_expression(self, k: int) -> bool:
        tok = self.t[k]
        if tok.kind == "ident":
            return tok.value not in _OPERATOR_WORDS
        if tok.kind == "template":
            return tok.value.endswith("`")
        return tok.kind in ("num", "str", "regex") or tok.value in (")", "]", "}", "++", "--")

    def is_class_body(self, open_brace: int) -> bool:
        """Whether the `{` at open_brace opens a class body (`class [Name] [extends Expr] {`)."""
        k = open_brace - 1
        for _ in range(64):
            if k < 0:
                return False
            tok = self.t[k]
            if tok.kind == "punct" and tok.value in (")", "]") and self.match[k] >= 0:
                k = self.match[k] - 1
                continue
            if tok.kind == "ident" and tok.value == "class":
                return True
            if tok.kind == "punct" and tok.value in ("{", "}", ";", "=", "(", ",", "=>", ":", "?"):
                return False
            k -= 1
        return False

    def member_start(self, k: int) -> bool:
        """Whether the identifier at k begins a class member (a name), not an initializer's operand."""
        prev = self.t[k - 1]
        if prev.value in ("{", ";", "}", "*", "static", "async", "get", "set", "accessor"):
            return True
        if not self.newline_before(k):
            return False
        return prev.kind in ("ident", "num", "str", "regex") or prev.value in (")", "]") or (
            prev.kind == "template" and prev.value.endswith("`")
        )

    # -- the whole module -----------------------------------------------------------------------------
    def run(self) -> EsmOutput:
        t = self.t
        esm = False
        dynamic: list[int] = []
        metas: list[int] = []
        for i, tok in enumerate(t):
            if tok.kind != "ident" or tok.value not in ("import", "export"):
                continue
            if i > 0 and t[i - 1].kind == "punct" and t[i - 1].value in (".", "?.", "#"):
                continue
            nxt = self.v(i + 1)
            if tok.value == "import" and nxt == "(":
                close = self.match[i + 1]
                if self.encl[i] >= 0 and self.v(self.encl[i]) == "{" and self.is_punct(close + 1, "{"):
                    continue  # a method named import
                dynamic.append(i)
                continue
            if tok.value == "import" and nxt == "." and self.v(i + 2) == "meta":
                metas.append(i)
                continue
            if self.encl[i] != -1 or nxt in (":", "=", ",", ")", ";", "}"):
                continue
            esm = True
            if tok.value == "import":
                self.parse_import(i)
            else:
                self.parse_export(i)
        for i in dynamic:
            self.edits.append((t[i].start, t[i].end, "__mbImport"))
        for i in metas:
            self.edits.append((t[i].start, t[i + 2].end, "({})"))
            line, col = line_col(self.src, t[i].start)
            self.warnings.append(
                CompileError(self.path, line, col, "import.meta is not available in mini-programs: it is "
                             "an empty object here", "esm-import-meta", "warning")
            )
        header = ""
        if esm:
            header = self.header()
        return EsmOutput(header, self.apply(), esm, self.warnings, self.header_lines)

    def header(self) -> str:
        names = {b.local for b in self.bindings.values() if b.imported != "*"}
        shadow = self.shadowed(names)
        rewrite = {n: self.bindings[n].expr() for n in names - shadow}
        self.rewrite_references(rewrite)
        parts = ['"use strict";']
        getters = []
        for name, local in self.exports.items():
            if local.startswith("@"):
                expr = local[1:]
            elif local in self.bindings:
                expr = self.bindings[local].expr()
            else:
                expr = local
            getters.append(f"{json.dumps(name)}: function () {{ return {expr}; }}")
        parts.append(f"{INTEROP}.esm(exports, {{{', '.join(getters)}}});")
        self.header_lines = []
        for item in self.order:
            if item.startswith("@require:"):
                src = self.sources[item[len("@require:") :]]
                decl = f"var {src.var} = require({json.dumps(src.spec)})"
                if src.needs_default:
                    decl += f", {src.var}d = {INTEROP}.def({src.var})"
                self.header_lines.append((sum(len(p) + 1 for p in parts), src.line))
                parts.append(decl + ";")
            else:
                parts.append(item)
        for name in sorted(shadow):
            b = self.bindings[name]
            parts.append(f"var {name}; {INTEROP}.live({b.source.var}, function () {{ {name} = {b.expr()}; }});")
        return " ".join(parts)

    def apply(self) -> str:
        out: list[str] = []
        pos = 0
        for start, end, text in sorted(self.edits, key=lambda e: (e[0], e[1])):
            if start < pos:  # never overlapping by construction; keep the first
                continue
            out.append(self.src[pos:start])
            out.append(text)
            pos = end
        out.append(self.src[pos:])
        return "".join(out)


def transform(path: str, src: str, tokens: list[Token]) -> EsmOutput:
    """ES module syntax in `src` converted to CommonJS; a CommonJS module comes back unchanged
    (except `import(...)`). Raises EsmSyntaxError for a malformed import/export."""
    mod = _Module(path, src, tokens)
    try:
        return mod.run()
    except IndexError:
        raise EsmSyntaxError(len(src), "unexpected end of an import/export declaration") from None
