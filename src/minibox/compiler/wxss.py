"""WXSS to CSS: `rpx` -> `calc(var(--rpx) * N)`, `@import` inlined (relative or `/`-absolute, cycles
detected), unsafe constructs refused. `scope_sheet` is the hook for component style isolation."""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable

from .errors import ErrorSink, line_col

#: Largest WXSS file accepted, in characters (VIEW-05: huge files).
MAX_WXSS_CHARS = 2_000_000
#: Deepest chain of @import accepted.
MAX_IMPORT_DEPTH = 32

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
#: The sheet's last statement, an `@import` whose `;` is missing (nothing but blanks after it).
_TAIL_IMPORT = re.compile(r"@import\s[^;{}]*$")
_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?(["']?)([^"')\s;]*)\1\s*\)?\s*([^;]*);""")
_VERBATIM = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|url\([^)]*\)", re.S)
_RPX = re.compile(r"(?<![\w.\-#])(-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)rpx\b", re.I)
#: `javascript:` only as a URL scheme, never inside a name (`.ion-logo-javascript::before` is a selector)
_UNSAFE = re.compile(r"expression\s*\(|-moz-binding|(?<![\w-])behavior\s*:"
                     r"|(?:(?<=[(\s\"',=:])|^)javascript\s*:(?!:)", re.I | re.M)


def convert_rpx(css: str) -> str:
    """Replace every `Nrpx` outside strings and url() with a calc() of the `--rpx` custom property."""
    out: list[str] = []
    pos = 0
    for m in _VERBATIM.finditer(css):
        out.append(_RPX.sub(_rpx_repl, css[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_RPX.sub(_rpx_repl, css[pos:]))
    return "".join(out)


def _rpx_repl(m: re.Match[str]) -> str:
    n = m.group(1)
    if n.startswith("."):
        n = "0" + n
    elif n.startswith("-."):
        n = "-0" + n[1:]
    if n.endswith("."):
        n = n[:-1]
    return f"calc(var(--rpx) * {n})"


#: At-rules whose block holds style rules (scoped like the top level); any other block is copied.
_NESTING_AT_RULES = ("@media", "@supports", "@document", "@layer", "@container")
_CLASS = re.compile(r"-?[_a-zA-Z][\w-]*")


def style_scope(component_path: str) -> str:
    """The class prefix of a component: `c` and 7 hex digits of its path's hash (`c520198b`); a
    CSS class name must not start with a digit."""
    return "c" + hashlib.sha1(component_path.encode("utf-8")).hexdigest()[:7]


def scope_sheet(css: str, component_path: str | None) -> str:
    """Component style isolation: `.x` becomes `.S--x` and `:host` becomes `.S--_host` in every
    selector of a component's sheet, so it styles only that component's nodes (the runtime writes
    the same prefixes into their class lists). Pages and app.wxss stay global."""
    if component_path is None:
        return css
    scope = style_scope(component_path)
    out: list[str] = []
    i, n = 0, len(css)
    while i < n:
        j = i
        while j < n and css[j] not in "{};":
            j = _skip_string(css, j) if css[j] in "\"'" else j + 1
        prelude = css[i:j]
        if j >= n:
            out.append(prelude)
            break
        if css[j] in "};":
            out.append(css[i : j + 1])
            i = j + 1
            continue
        head = prelude.strip().split(None, 1)[0].lower() if prelude.strip() else ""
        if head.startswith("@"):
            if head in _NESTING_AT_RULES:
                out.append(css[i : j + 1])  # its rules follow; the closing brace is copied above
                i = j + 1
            else:
                k = matching_brace(css, j)
                out.append(css[i : k + 1])  # @keyframes, @font-face, ...: no selectors inside
                i = k + 1
            continue
        k = matching_brace(css, j)
        out.append(_scope_selectors(prelude, scope) + css[j : k + 1])
        i = k + 1
    return "".join(out)


def _skip_string(css: str, i: int) -> int:
    quote, i = css[i], i + 1
    while i < len(css) and css[i] != quote:
        i += 2 if css[i] == "\\" else 1
    return i + 1


def matching_brace(css: str, i: int) -> int:
    """Index of the `}` closing the `{` at `i` (strings skipped); the last index if unclosed."""
    depth = 0
    while i < len(css):
        c = css[i]
        if c in "\"'":
            i = _skip_string(css, i)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(css) - 1


def _scope_selectors(selectors: str, scope: str) -> str:
    text = re.sub(r":host\(([^)]*)\)", lambda m: f".{scope}--_host{m.group(1)}", selectors)
    text = re.sub(r":host\b", f".{scope}--_host", text)
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "[":
            j = text.find("]", i)
            j = len(text) if j < 0 else j + 1
            out.append(text[i:j])
            i = j
        elif c in "\"'":
            j = _skip_string(text, i)
            out.append(text[i:j])
            i = j
        elif c == "." and (m := _CLASS.match(text, i + 1)):
            name = m.group()
            out.append("." + (name if name.startswith(f"{scope}--") else f"{scope}--{name}"))
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


#: At-rules whose block holds rules rather than declarations.
_RULE_BLOCKS = (*_NESTING_AT_RULES, "@keyframes", "@-webkit-keyframes")


def check_structure(path: str, css: str, sink: ErrorSink) -> None:
    """What WeChat's wcsc refuses in a sheet's structure (comments already blanked): an unterminated
    string, an unbalanced brace, a block without a selector, an empty declaration (`;;`) and text left
    over at the end of the file. (wcsc refuses more, in ways a browser recovers from; those stay accepted.)"""

    def error(pos: int, message: str) -> None:
        line, col = line_col(css, pos)
        sink.add(path, line, col, message, "wxss-syntax")

    n = len(css)
    stack: list[tuple[int, bool]] = []  # (offset of `{`, holds declarations)
    start = 0  # start of the current prelude or declaration
    parens = 0
    value_block = False  # wcsc: a `{` among declarations opens a group its `}` closes with the rule
    i = 0
    while i < n:
        c = css[i]
        if c in "\"'":
            j = i + 1
            while j < n and css[j] != c and css[j] != "\n":
                j += 2 if css[j] == "\\" else 1
            if j >= n or css[j] != c:
                error(i, "unterminated string")
                return
            i = j + 1
            continue
        if c == "(":
            parens += 1
        elif c == ")":
            parens = max(0, parens - 1)
        elif parens:
            pass
        elif c == "{" and stack and stack[-1][1]:
            value_block = True
        elif value_block:
            if c == "}":
                stack.pop()
                value_block = False
                start = i + 1
        elif c == "{":
            prelude = css[start:i].strip()
            if not prelude:
                error(i, "a rule without a selector")
                return
            decls = not prelude.lower().startswith(_RULE_BLOCKS)
            stack.append((i, decls))
            start = i + 1
        elif c == "}":
            if not stack:
                error(i, "unexpected '}'")
                return
            _, decls = stack.pop()
            if decls and not _check_declaration(css, start, i, error):
                return
            start = i + 1
        elif c == ";":
            if stack and stack[-1][1] and not _check_declaration(css, start, i, error, last=False):
                return
            start = i + 1
        i += 1
    if stack:
        error(stack[-1][0], "'{' is never closed")
    elif css[start:].strip():
        error(start + len(css[start:]) - len(css[start:].lstrip()), "unexpected text at the end of the sheet")


def _check_declaration(css: str, start: int, end: int, error: Callable[[int, str], None], last: bool = True) -> bool:
    text = css[start:end]
    if not text.strip():
        if last:  # `a:b;}`: the `;` before `}` is fine, `{}` too
            return True
        error(end, "empty declaration (';;')")
        return False
    return True


def _blank_comments(src: str) -> str:
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), src)


class WxssCompiler:
    """Compiles WXSS files of one package; `read(path)` returns a file's text or None if missing."""

    def __init__(self, read: Callable[[str], str | None], sink: ErrorSink) -> None:
        self.read = read
        self.sink = sink

    def compile(self, path: str, component_path: str | None = None) -> str:
        src = self.read(path)
        if src is None:
            return ""
        css = self._inline(path, src, [path])
        return scope_sheet(css, component_path)

    def _inline(self, path: str, src: str, stack: list[str]) -> str:
        if src.startswith("\ufeff"):
            src = src[1:]
        src = src.replace("\r\n", "\n").replace("\r", "\n")
        if len(src) > MAX_WXSS_CHARS:
            self.sink.add(path, 1, 1, f"stylesheet larger than {MAX_WXSS_CHARS} characters", "wxss-size")
            return ""
        start = src.find("/*")
        truncated = False
        while start >= 0:
            end = src.find("*/", start + 2)
            if end < 0:  # as WeChat's wcsc: the rest of the file is a comment
                line, col = line_col(src, start)
                self.sink.warn(path, line, col, "unclosed comment: the rest of the file is ignored", "wxss-comment")
                src = src[:start]
                truncated = True
                break
            start = src.find("/*", end + 2)
        clean = _blank_comments(src)
        tail = _TAIL_IMPORT.search(clean)
        if tail is not None:  # CSS closes a statement at the end of the sheet; wcsc accepts it too
            line, col = line_col(clean, tail.start())
            self.sink.warn(path, line, col, "@import without ';' at the end of the sheet", "wxss-import")
            clean = clean.rstrip() + ";\n"
        if not truncated:  # a sheet cut short by an unclosed comment: wcsc's verdict varies, accept it
            check_structure(path, clean, self.sink)
        for m in _UNSAFE.finditer(clean):
            line, col = line_col(clean, m.start())
            self.sink.add(path, line, col, f"unsafe CSS construct {m.group()!r}", "wxss-unsafe")
        out: list[str] = []
        pos = 0
        for m in _IMPORT.finditer(clean):
            out.append(convert_rpx(clean[pos : m.start()]))
            pos = m.end()
            out.append(self._import(path, clean, m, stack))
        out.append(convert_rpx(clean[pos:]))
        return "".join(out)

    def _import(self, path: str, clean: str, m: re.Match[str], stack: list[str]) -> str:
        line, col = line_col(clean, m.start())
        spec = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:|^//", spec, re.I):
            self.sink.add(path, line, col, f"@import of a URL outside the package: {spec}", "wxss-import")
            return ""
        base = spec[1:] if spec.startswith("/") else posixpath.join(posixpath.dirname(path), spec)
        target = posixpath.normpath(base)
        if target.startswith(".."):
            self.sink.add(path, line, col, f"@import outside the package: {spec}", "wxss-import")
            return ""
        if not target.endswith((".wxss", ".css")):
            target += ".wxss"
        if target in stack:
            cycle = " -> ".join([*stack[stack.index(target) :], target])
            self.sink.add(path, line, col, f"@import cycle: {cycle}", "wxss-import-cycle")
            return ""
        if len(stack) >= MAX_IMPORT_DEPTH:
            self.sink.add(path, line, col, "@import nested too deeply", "wxss-import")
            return ""
        text = self.read(target)
        if text is None:
            self.sink.add(path, line, col, f"imported stylesheet not found: {spec}", "wxss-import")
            return ""
        body = self._inline(target, text, [*stack, target])
        media = m.group(3).strip()
        return f"@media {media} {{\n{body}\n}}\n" if media else body + "\n"
