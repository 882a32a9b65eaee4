"""Logic-layer JS: each `.js` file of the package becomes one `__mbDefine` module of logic.js.

Per module (`compile_module`): a warning for `eval(...)` / `new Function(...)` (WeChat loads such code;
the call throws at run time, as it does here), ES module syntax converted to CommonJS (`esm.py`), a
syntax check by the engine itself (`jssyntax.py`: a module that cannot be parsed becomes one that
throws its SyntaxError when required, so it fails alone), and the wrapper.

Line numbers are kept: the wrapper's first line holds only framework code (the ESM header), every
source line stays on its own line, and logic.js passes each module's first line to `__mbDefine`, so the
framework maps an error's `<input>:line` back to `pages/a/a.js:12` (docs/internals.md section 3).
Module code starts after `LOGIC_FIRST_LINE`, above the line count of any framework file, which is how
a stack frame in logic.js is told apart from one in the framework.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import CompileError, line_col
from .esm import EsmSyntaxError, transform
from .jssyntax import check_syntax, failing_module
from .jstokens import JsSyntaxError, Token, tokenize

#: The one `new Function(...)` body WeChat allows (it is how libraries find the global object).
ALLOWED_FUNCTION_BODIES = frozenset({"return this"})
#: Objects through which `obj.eval(...)` still reaches the global eval.
GLOBAL_OBJECTS = frozenset({"globalThis", "window", "global", "self"})
#: The first logic.js line that holds module code; lines before it are a comment and blank lines.
LOGIC_FIRST_LINE = 10_001
#: Largest `.json` file compiled into a module for `require('./x.json')`.
MAX_JSON_MODULE_BYTES = 4 << 20

WRAPPER_HEAD = "function (require, module, exports) {"


def _str_value(tok: Token) -> str | None:
    if tok.kind == "str":
        return tok.value[1:-1]
    if tok.kind == "template" and tok.value.endswith("`") and "${" not in tok.value:
        return tok.value[1:-1]
    return None


def find_dynamic_code(path: str, src: str, toks: list[Token]) -> list[CompileError]:
    """Warnings for `eval(...)` and `new Function(...)` (on tokens: never in strings or comments)."""
    found: list[CompileError] = []
    for i, tok in enumerate(toks):
        if tok.kind != "ident":
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.value == "eval" and nxt is not None and nxt.value == "(":
            before = toks[i - 1] if i > 0 else None
            if before is not None and before.value in (".", "?."):
                obj = toks[i - 2] if i > 1 else None
                if obj is None or obj.value not in GLOBAL_OBJECTS:
                    continue
            line, col = line_col(src, tok.start)
            found.append(
                CompileError(
                    path, line, col, "eval() is not supported in mini-programs: the call throws at run time",
                    "no-eval", "warning",
                )
            )
        elif tok.value == "Function" and i > 0 and toks[i - 1].value == "new":
            if nxt is not None and nxt.value == "(":
                args = toks[i + 2 : i + 4]
                if (
                    len(args) == 2
                    and args[1].value == ")"
                    and (_str_value(args[0]) or "").strip().rstrip(";").strip() in ALLOWED_FUNCTION_BODIES
                ):
                    continue
            line, col = line_col(src, toks[i - 1].start)
            found.append(
                CompileError(
                    path, line, col,
                    "new Function() is not supported in mini-programs: the call throws at run time",
                    "no-new-function", "warning",
                )
            )
    return found


def check_logic(path: str, src: str) -> list[CompileError]:
    """Findings for dynamic code in one JS file: warnings (WeChat accepts the file; the call throws)."""
    try:
        toks = tokenize(src)
    except JsSyntaxError:
        return []  # the engine's syntax check reports the file
    return find_dynamic_code(path, src, toks)


def _clean(src: str) -> str:
    if src.startswith("\ufeff"):
        src = src[1:]
    if src.startswith("#!"):
        src = "//" + src
    return src


@dataclass
class CompiledModule:
    path: str
    header: str = ""
    body: str = ""
    #: a module replaced by one that throws (a syntax error); `text` is its whole define call
    failed_text: str | None = None
    errors: list[CompileError] = field(default_factory=list)
    warnings: list[CompileError] = field(default_factory=list)
    #: `require`/`import` specifiers given as string literals (`.json` modules, what the module loads)
    requests: list[str] = field(default_factory=list)
    #: every `require` and `import()` of the module names a string literal: `requests` are all the
    #: modules it can load (False: some are computed at run time, or the source could not be scanned)
    static_requires: bool = False
    esm: bool = False
    header_lines: list[tuple[int, int]] = field(default_factory=list)


def _requests(toks: list[Token]) -> list[str]:
    out = []
    for i, tok in enumerate(toks):
        if tok.kind != "str" or i == 0:
            continue
        prev = toks[i - 1]
        if (prev.value == "(" and i > 1 and toks[i - 2].value == "require") or prev.value == "from" or (
            prev.value == "import" and prev.kind == "ident"
        ):
            out.append(tok.value[1:-1])
    return out


def _literal_requires(toks: list[Token]) -> list[str] | None:
    """The specifiers of the module's `require("x")`, `require("x", onLoad, onError)`,
    `require.async("x")` and `import("x")`; None when some use of `require` or `import(...)` is not
    one of those (`require(name)`, `const r = require`, `typeof require`, a local function named
    require...): what the module can load is then not known before run time."""

    def literal_call(i: int) -> str | None:  # toks[i] is "(": a string literal, then ")" or ","
        if i + 2 < len(toks) and toks[i].value == "(" and toks[i + 2].value in (")", ","):
            return _str_value(toks[i + 1])
        return None

    found: list[str] = []
    for i, tok in enumerate(toks):
        if tok.kind != "ident" or tok.value not in ("require", "import"):
            continue
        if i > 0 and toks[i - 1].value in (".", "?."):
            continue  # a property of another object (obj.require(...))
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.value == "import":
            if nxt is not None and nxt.value == "(":
                spec = literal_call(i + 1)
                if spec is None:
                    return None
                found.append(spec)
            continue  # a static import: its specifier is among `_requests`
        if nxt is not None and nxt.value == ":" and i > 0 and toks[i - 1].value in ("{", ","):
            continue  # an object literal's key
        spec = literal_call(i + 1)
        if spec is None and nxt is not None and nxt.value == "." and i + 2 < len(toks) and toks[i + 2].value == "async":
            spec = literal_call(i + 3)
        if spec is None:
            return None
        found.append(spec)
    return found


def module_candidates(frm: str, request: str) -> list[str]:
    """Every module path `require(request)` in module `frm` may load, as the framework's
    mbResolveModule looks (it takes the first of these that is defined)."""
    here = posixpath.dirname(frm)
    if request.startswith("/"):
        bases = [request]
    elif request.startswith(("./", "../")) or request in (".", ".."):
        bases = [here + "/" + request]
    else:  # bare: same directory, then miniprogram_npm walking up, then the package root
        bases = [here + "/" + request]
        d = here
        while True:
            bases.append((d + "/" if d else "") + "miniprogram_npm/" + request)
            if not d:
                break
            d = posixpath.dirname(d)
        bases.append(request)
    out = []
    for base in bases:
        parts: list[str] = []
        for seg in base.split("/"):  # as mbNormalize: "" and "." dropped, ".." pops (never above the root)
            if seg == "..":
                if parts:
                    parts.pop()
            elif seg not in ("", "."):
                parts.append(seg)
        norm = "/".join(parts)
        out += [norm, norm + ".js", norm + "/index.js"]
    return out


def compile_module(path: str, src: str) -> CompiledModule:
    """One JS file as a logic module (see the module docstring)."""
    src = _clean(src)
    out = CompiledModule(path)
    try:
        toks = tokenize(src)
    except JsSyntaxError:
        toks = None  # the scanner is stricter than the engine in odd corners: let the engine judge
    header, body = "", src
    if toks is not None:
        out.warnings += find_dynamic_code(path, src, toks)
        out.requests = _requests(toks)
        literal = _literal_requires(toks)
        if literal is not None:
            out.requests += [r for r in literal if r not in out.requests]
            out.static_requires = True
        try:
            res = transform(path, src, toks)
        except EsmSyntaxError as exc:
            line, col = line_col(src, exc.offset)
            err = CompileError(path, line, col, f"SyntaxError: {exc.message}", "js-syntax")
            out.errors.append(err)
            out.failed_text = failing_module(path, err)
            out.requests, out.static_requires = [], True  # it throws when required: it loads nothing
            return out
        header, body, out.esm, out.header_lines = res.header, res.body, res.is_esm, res.header_lines
        out.warnings += res.warnings
    syntax = check_syntax(path, header + body)
    if syntax is not None:
        if syntax.line == 1 and header:
            syntax = CompileError(
                syntax.file, 1, max(1, syntax.column - len(header)), syntax.message, syntax.code
            )
        out.errors.append(syntax)
        out.failed_text = failing_module(path, syntax)
        out.requests, out.static_requires = [], True  # it throws when required: it loads nothing
        return out
    out.header, out.body = header, body
    return out


def wrap_module(
    path: str,
    src: str,
    header: str = "",
    first_line: int | None = None,
    header_lines: list[tuple[int, int]] | None = None,
) -> str:
    """One `__mbDefine` call for a logic module (`path` with `.js`): `header` on the wrapper's line,
    then the source line for line. `first_line` is the logic.js line of the wrapper; `header_lines`
    ((offset in header, source line) pairs) become (column, line) pairs for errors the header throws."""
    src = _clean(src)
    head = f"__mbDefine({json.dumps(path)}, {WRAPPER_HEAD}"
    tail = ""
    if first_line is not None:
        tail = f", {first_line}, {src.count(chr(10)) + 1}"
        if header_lines:
            pairs = [n for off, line in header_lines for n in (len(head) + off + 1, line)]
            tail += ", [" + ",".join(map(str, pairs)) + "]"
    return f"{head}{header}\n{src}\n}}{tail});\n"


def _json_module(path: str, text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("\u2028", "\\u2028")
    data = data.replace("\u2029", "\\u2029")
    return f"__mbDefine({json.dumps(path)}, function (require, module) {{ module.exports = {data}; }});\n"


def _package_alias(pkg_dir: str, main: str, files: set[str]) -> tuple[str, str] | None:
    """A `miniprogram_npm/<pkg>/index.js` that forwards to the `main` of its package.json: its text,
    and the request it makes."""
    if f"{pkg_dir}/index.js" in files:
        return None
    target = posixpath.normpath(posixpath.join(pkg_dir, main))
    for cand in (target, target + ".js", target + "/index.js"):
        if cand in files and cand.endswith(".js"):
            rel = "./" + posixpath.relpath(cand, pkg_dir)
            return (
                f"__mbDefine({json.dumps(pkg_dir + '/index.js')}, function (require, module) "
                f"{{ module.exports = require({json.dumps(rel)}); }});\n",
                rel,
            )
    return None


def _npm_package_dirs(files: Iterable[str]) -> dict[str, str]:
    """`miniprogram_npm/<pkg>` (or `.../@scope/pkg`) directory -> its package.json path."""
    out = {}
    for f in files:
        if not f.endswith("/package.json"):
            continue
        parts = f.split("/")
        for k in range(len(parts) - 1, 0, -1):
            if parts[k - 1] == "miniprogram_npm" or (
                k >= 2 and parts[k - 2] == "miniprogram_npm" and parts[k - 1].startswith("@")
            ):
                if k == len(parts) - 2:
                    out["/".join(parts[:-1])] = f
                break
    return out


class LogicLinker:
    """Joins modules into logic.js, numbering the lines each module starts at."""

    def __init__(self) -> None:
        self.parts = [
            f"// minibox logic.js: module code starts at line {LOGIC_FIRST_LINE} "
            "(the framework maps errors back to each file's own lines)\n",
            "\n" * (LOGIC_FIRST_LINE - 3),
        ]
        self.line = LOGIC_FIRST_LINE - 1  # the next module's define line

    def add_text(self, text: str) -> None:
        self.parts.append(text)
        self.line += text.count("\n")

    def add(self, mod: CompiledModule) -> None:
        if mod.failed_text is not None:
            self.add_text(mod.failed_text)
        else:
            self.add_text(wrap_module(mod.path, mod.body, mod.header, self.line, mod.header_lines))

    def text(self) -> str:
        return "".join(self.parts)


def _resolve_json(frm: str, request: str, files: set[str]) -> str | None:
    """The `.json` file a `require` names, found as the framework's mbResolveModule finds modules."""
    if not request.endswith(".json"):
        return None
    here = posixpath.dirname(frm)
    if request.startswith("/"):
        cands = [request.lstrip("/")]
    elif request.startswith(("./", "../")):
        cands = [posixpath.join(here, request)]
    else:  # bare: same directory, then miniprogram_npm walking up, then the package root
        cands = [posixpath.join(here, request)]
        d = here
        while True:
            cands.append(posixpath.join(d, "miniprogram_npm", request))
            if not d:
                break
            d = posixpath.dirname(d)
        cands.append(request)
    for cand in cands:
        norm = posixpath.normpath(cand)
        if norm in files:
            return norm
    return None


def build_logic(
    files: Iterable[str],
    read: Callable[[str], str | None],
    report: Callable[[CompileError], None],
    progress: Callable[[str, int, int], None] | None = None,
    roots: Iterable[str] | None = None,
) -> str:
    """logic.js for a package: every `.js` file, `.json` files required by literal path, and an index
    module for a `miniprogram_npm` package whose package.json `main` names another file.

    With `roots` (app.js, the pages' and the components' files: what the framework loads itself),
    only the `.js` modules they can load are linked (every file is compiled and checked all the
    same), when that is known: when every `require` and `import()` of every module they reach names
    a string literal. Otherwise every module is linked, as without `roots`. A module nothing can
    load never runs (modules run when first required); WeChat's devtools leave such files out of an
    upload too ("ignoreUploadUnusedFiles")."""
    all_files = set(files)
    js_files = sorted(f for f in all_files if f.endswith(".js"))
    mods: dict[str, CompiledModule] = {}
    json_needed: set[str] = set()
    for k, path in enumerate(js_files):
        if progress is not None:
            progress(f"JS {path}", k, len(js_files))
        mod = compile_module(path, read(path) or "")
        for e in [*mod.errors, *mod.warnings]:
            report(e)
        for req in mod.requests:
            target = _resolve_json(path, req, all_files)
            if target is not None:
                json_needed.add(target)
        mods[path] = mod
    aliases: dict[str, tuple[str, str]] = {}  # index module -> (its text, the main it requires)
    for pkg_dir, pj in sorted(_npm_package_dirs(all_files).items()):
        try:
            main = json.loads(read(pj) or "{}").get("main")
        except (ValueError, AttributeError):
            continue
        if isinstance(main, str) and main:
            alias = _package_alias(pkg_dir, main, all_files)
            if alias is not None:
                aliases[pkg_dir + "/index.js"] = alias
    keep = None if roots is None else _loadable(roots, mods, {a: req for a, (_t, req) in aliases.items()})
    linker = LogicLinker()
    for path, mod in mods.items():
        if keep is None or path in keep:
            linker.add(mod)
    for path in sorted(json_needed):
        text = read(path)
        if text is not None and len(text) <= MAX_JSON_MODULE_BYTES:
            module = _json_module(path, text)
            if module is not None:
                linker.add_text(module)
    for path, (text, _req) in aliases.items():
        if keep is None or path in keep:
            linker.add_text(text)
    return linker.text()


def _loadable(roots: Iterable[str], mods: dict[str, CompiledModule], aliases: dict[str, str]) -> set[str] | None:
    """The modules `roots` can load, transitively (every candidate of each literal request, not
    only the one the framework would pick); None when a module among them loads what it computes."""
    defined = set(mods) | set(aliases)
    seen: set[str] = set()
    stack = [r for r in roots if r in defined]
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        if path in aliases:
            requests = [aliases[path]]
        elif not mods[path].static_requires:
            return None
        else:
            requests = mods[path].requests
        for request in requests:
            stack.extend(c for c in module_candidates(path, request) if c in defined)
    return seen
