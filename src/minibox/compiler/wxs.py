"""WXS modules to sandboxed JS factories inside render.js.

WXS is WeChat's restricted script for the view: `module.exports`, `require` of other `.wxs` files by
relative path, `getRegExp`, `getDate`, and no other globals (no `wx`, `getApp`, timers, `Function`,
`globalThis`). Two WeChat differences are compiled in: `x.constructor` yields a type-name string
('Array', 'Object', ...), and every global outside the allowed set is shadowed to undefined.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import CompileError, line_col
from .jstokens import JsSyntaxError, Token, tokenize

#: Globals hidden from WXS code (shadowed by undefined parameters of the module factory).
SHADOWED_GLOBALS = (
    "WD", "__mb", "globalThis", "window", "self", "global", "document", "wx", "getApp",
    "getCurrentPages", "App", "Page", "Component", "Behavior", "__mbDefine", "setTimeout",
    "setInterval", "clearTimeout", "clearInterval", "setImmediate", "requestAnimationFrame",
    "queueMicrotask", "Function", "Promise", "Proxy", "Reflect", "WebAssembly", "Symbol", "WeakRef",
    "FinalizationRegistry", "SharedArrayBuffer", "Atomics", "fetch", "XMLHttpRequest", "Date",
    "RegExp", "print", "std", "os",
)  # fmt: skip
#: Identifiers WXS code may not use at all (checked on tokens, at compile time).
FORBIDDEN_IDENTIFIERS = frozenset({"eval", "Function", "this", "__proto__"})
#: Words WXS (an ES5 dialect) lets a program use as names but today's JS reserves: renamed on the way
#: out (`var class = 1` -> `var class$wxs = 1`), except as a property name (`x.class`, `{class: 1}`).
RENAMED_WORDS = frozenset({"class", "enum", "extends", "super", "export", "import"})
#: String literals refused because they only serve to reach the JS object model.
FORBIDDEN_STRINGS = frozenset({"constructor", "__proto__", "prototype"})
_KEYWORDS = frozenset(
    [
        "return",
        "typeof",
        "instanceof",
        "in",
        "of",
        "new",
        "delete",
        "void",
        "throw",
        "case",
        "do",
        "else",
        "if",
        "while",
        "for",
        "switch",
        "var",
        "function",
    ]
)

#: The `.constructor` helper, as WeChat's WXS defines it: a type name string.
WC_HELPER = """function (x) {
  if (x === null || x === undefined) return x.constructor;
  var t = typeof x;
  if (t === "string") return "String";
  if (t === "number") return "Number";
  if (t === "boolean") return "Boolean";
  if (t === "function") return "Function";
  if (Array.isArray(x)) return "Array";
  if (x instanceof Date) return "Date";
  if (x instanceof RegExp) return "RegExp";
  return "Object";
}"""


@dataclass
class CompiledWxs:
    path: str
    js: str
    requires: dict[str, str] = field(default_factory=dict)  # spec -> resolved package path


#: Escapes JS string literals know; WXS keeps the backslash of any other (`'\d'` stays `\d`, which
#: libraries rely on in `getRegExp('^\d+$')`).
_JS_ESCAPES = frozenset("'\"\\bfnrtv0xu\n\r\u2028\u2029")
_ESCAPE = re.compile(r"\\(.)", re.S)


def _keep_unknown_escapes(literal: str) -> str:
    return _ESCAPE.sub(lambda m: m.group() if m.group(1) in _JS_ESCAPES else "\\\\" + m.group(1), literal)


def _operand_start(toks: list[Token], dot: int) -> int | None:
    """Index of the first token of the member-expression operand that ends just before `toks[dot]`."""
    closers = {")": "(", "]": "["}
    j = dot - 1
    while j >= 0:
        t = toks[j]
        if t.kind == "punct" and t.value in closers:
            depth = 0
            k = j
            while k >= 0:
                v = toks[k].value if toks[k].kind == "punct" else ""
                if v in (")", "]", "}"):
                    depth += 1
                elif v in ("(", "[", "{"):
                    depth -= 1
                    if depth == 0:
                        break
                k -= 1
            if k < 0:
                return None
            prev = toks[k - 1] if k > 0 else None
            is_postfix = prev is not None and (
                (prev.kind in ("ident", "str", "num", "template") and prev.value not in _KEYWORDS)
                or (prev.kind == "punct" and prev.value in (")", "]"))
            )
            if prev is not None and toks[k].value == "(" and prev.kind == "str":
                is_postfix = False
            if is_postfix:
                j = k - 1
                continue
            return k
        if t.kind in ("ident", "str", "num", "template", "regex") and t.value not in _KEYWORDS:
            if j > 0 and toks[j - 1].kind == "punct" and toks[j - 1].value == ".":
                j -= 2
                continue
            return j
        return None
    return None


def compile_wxs(
    path: str,
    source: str,
    resolve: Callable[[str], str | None],
    file: str | None = None,
    base_offset: int = 0,
    full_source: str | None = None,
) -> tuple[CompiledWxs, list[CompileError]]:
    """Compile one WXS module. `resolve(spec)` gives the package path of a required `.wxs` (or None).
    `file`/`base_offset`/`full_source` locate inline modules inside their WXML file for errors."""
    errors: list[CompileError] = []
    where = file or path
    text = full_source if full_source is not None else source

    def err(offset: int, message: str, code: str = "wxs") -> None:
        line, col = line_col(text, base_offset + offset)
        errors.append(CompileError(where, line, col, message, code))

    try:
        toks = tokenize(source)
    except JsSyntaxError as exc:
        err(exc.offset, exc.message, "wxs-syntax")
        return CompiledWxs(path, ""), errors
    openers: list[Token] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for t in toks:
        if t.kind != "punct":
            continue
        if t.value in "([{":
            openers.append(t)
        elif t.value in pairs:
            if not openers or openers[-1].value != pairs[t.value]:
                err(t.start, f"unbalanced {t.value!r}", "wxs-syntax")
                return CompiledWxs(path, ""), errors
            openers.pop()
    if openers:
        err(openers[-1].start, f"unclosed {openers[-1].value!r}", "wxs-syntax")
        return CompiledWxs(path, ""), errors
    edits: list[tuple[int, int, str]] = []
    requires: dict[str, str] = {}
    for i, t in enumerate(toks):
        if t.kind == "ident":
            if t.value in FORBIDDEN_IDENTIFIERS or t.value.startswith("__mb"):
                err(t.start, f"{t.value!r} is not available in WXS", "wxs-forbidden")
            elif t.value == "require" and i + 3 < len(toks) and toks[i + 1].value == "(":
                arg = toks[i + 2]
                if arg.kind == "str" and toks[i + 3].value == ")":
                    spec = arg.value[1:-1]
                    target = resolve(spec)
                    if target is None:
                        err(arg.start, f"required wxs module not found: {spec}", "wxs-require")
                    else:
                        requires[spec] = target
                else:
                    err(t.start, "require() in WXS takes one string literal path", "wxs-require")
            elif t.value in RENAMED_WORDS:
                prev = toks[i - 1] if i > 0 else None
                nxt = toks[i + 1] if i + 1 < len(toks) else None
                is_property = prev is not None and prev.kind == "punct" and prev.value in (".", "?.")
                is_key = (prev is not None and prev.value in ("{", ",") and nxt is not None and nxt.value == ":")
                if not (is_property or is_key):
                    edits.append((t.start, t.end, t.value + "$wxs"))
            elif (
                t.value == "constructor"
                and i > 0
                and toks[i - 1].kind == "punct"
                and toks[i - 1].value == "."
            ):
                start = _operand_start(toks, i - 1)
                if start is None:
                    err(t.start, "cannot compile this use of .constructor", "wxs-constructor")
                else:
                    edits.append((toks[start].start, toks[start].start, "__mb_wc("))
                    edits.append((toks[i - 1].start, t.end, ")"))
        elif t.kind == "str":
            if t.value[1:-1] in FORBIDDEN_STRINGS:
                err(t.start, f"the string {t.value} is not allowed in WXS", "wxs-forbidden")
            kept = _keep_unknown_escapes(t.value)
            if kept != t.value:
                edits.append((t.start, t.end, kept))
    out = source
    for start, end, repl in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + repl + out[end:]
    params = ", ".join(("module", "exports", "require", "getRegExp", "getDate", *SHADOWED_GLOBALS))
    js = (
        f"WD[{json.dumps(path)}] = {{r: {json.dumps(requires, sort_keys=True)}, f: function ({params}) {{\n"
        f"{out}\n}}}};\n"
    )
    return CompiledWxs(path, js, requires), errors


def resolve_wxs(spec: str, from_path: str, exists: Callable[[str], bool]) -> str | None:
    """Package path of a `.wxs` required from `from_path` (relative or `/`-absolute), if it exists."""
    spec = spec.strip()
    if not spec:
        return None
    base = spec[1:] if spec.startswith("/") else posixpath.join(posixpath.dirname(from_path), spec)
    norm = posixpath.normpath(base)
    if norm.startswith("..") or norm.startswith("/"):
        return None
    if not norm.endswith(".wxs"):
        norm += ".wxs"
    return norm if exists(norm) else None
