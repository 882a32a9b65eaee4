"""WXML lexer: source text to a flat list of tokens (text, start tag, end tag). Comments are dropped.

Mustaches (`{{ }}`) are opaque to the lexer: a `<` or `>` or quote inside one never ends text or a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ErrorSink, line_col
from .nodes import Attr

#: Elements whose content is raw text (script), not markup.
RAW_TEXT_TAGS = frozenset({"wxs"})
#: tag and attribute names as WeChat's wcc reads them (no `.`, `$`, `@`; an attribute may start with `:`/`-`)
_NAME = re.compile(r"[A-Za-z_][\w\-:]*", re.A)
_ATTR_NAME = re.compile(r"[A-Za-z_:\-][\w\-:]*", re.A)


@dataclass(slots=True)
class TextTok:
    value: str
    pos: int


@dataclass(slots=True)
class StartTok:
    name: str
    attrs: list[Attr]
    self_closing: bool
    pos: int


@dataclass(slots=True)
class EndTok:
    name: str
    pos: int


Token = TextTok | StartTok | EndTok
_UNQUOTED = re.compile(r"[^\s>]+")


def normalise(source: str) -> str:
    """Drop a BOM and turn CRLF / CR line ends into LF (columns then count characters)."""
    if source.startswith("\ufeff"):
        source = source[1:]
    return source.replace("\r\n", "\n").replace("\r", "\n")


def skip_mustache(src: str, i: int) -> int:
    """Offset just after the `}}` closing the mustache opened at `i`, or -1 if it never closes."""
    j = i + 2
    n = len(src)
    depth = 0
    while j < n:
        c = src[j]
        if c in "'\"":
            k = j + 1
            while k < n and src[k] != c:
                if src[k] == "\n":
                    break
                k += 2 if src[k] == "\\" else 1
            if k >= n or src[k] != c:
                return -1
            j = k + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0 and j + 1 < n and src[j + 1] == "}":
                return j + 2
            depth = max(0, depth - 1)
        j += 1
    return -1


class Lexer:
    def __init__(self, path: str, src: str, sink: ErrorSink) -> None:
        self.path = path
        self.src = src
        self.sink = sink

    def error(self, pos: int, message: str, code: str = "wxml-syntax") -> None:
        line, col = line_col(self.src, pos)
        self.sink.add(self.path, line, col, message, code)

    def warn(self, pos: int, message: str, code: str = "wxml-syntax") -> None:
        line, col = line_col(self.src, pos)
        self.sink.warn(self.path, line, col, message, code)

    def tokens(self) -> list[Token]:
        src = self.src
        n = len(src)
        out: list[Token] = []
        i = 0
        while i < n:
            if src.startswith("<!--", i):
                j = src.find("-->", i + 4)
                if j < 0:  # WeChat takes the rest of the file as the comment
                    self.warn(i, "unclosed comment: the rest of the file is ignored", "wxml-comment")
                    break
                i = j + 3
                continue
            if src.startswith("</", i):
                k = i + 2
                while k < n and src[k] in " \t":  # `</ view>`: wcc accepts the space
                    k += 1
                m = _NAME.match(src, k)
                if not m:
                    self.error(i, "bad end tag")
                    i += 2
                    continue
                j = m.end()
                while j < n and src[j] in " \t\n":
                    j += 1
                if j >= n or src[j] != ">":
                    self.error(j, f"expected '>' to close </{m.group()}>")
                else:
                    j += 1
                out.append(EndTok(m.group(), i))
                i = j
                continue
            if src[i] == "<":
                m = _NAME.match(src, i + 1)
                if not m:
                    self.error(i, "unexpected '<' (write &lt; for a literal '<')")
                    out.append(TextTok("<", i))
                    i += 1
                    continue
                i = self.start_tag(i, m.group(), m.end(), out)
                continue
            i = self.text(i, out)
        return out

    def text(self, i: int, out: list[Token]) -> int:
        src = self.src
        n = len(src)
        j = i
        while j < n and src[j] != "<":
            if src.startswith("{<", j):  # as wcc: a lone `{` takes the next character as text, even `<`
                j += 2
                continue
            if src.startswith("{{", j):
                k = skip_mustache(src, j)
                if k < 0:
                    self.error(j, "unclosed '{{'", "wxml-mustache")
                    j = src.find("<", j)
                    j = n if j < 0 else j
                    break
                j = k
                continue
            j += 1
        out.append(TextTok(src[i:j], i))
        return j

    def start_tag(self, start: int, name: str, i: int, out: list[Token]) -> int:
        src = self.src
        n = len(src)
        attrs: list[Attr] = []
        seen: set[str] = set()
        if src.startswith("<", i) and src[i + 1 : i + 2] in (" ", "\t", "\n"):  # `<view< class=..>`: wcc skips it
            self.warn(i, f"stray '<' after <{name}> is ignored")
            i += 1
        while True:
            while i < n and src[i] in " \t\n":
                i += 1
            if i >= n:
                self.error(start, f"unclosed start tag <{name}>")
                return n
            if src[i] == ">":
                i += 1
                break
            if src.startswith("/>", i):
                out.append(StartTok(name, attrs, True, start))
                return i + 2
            m = _ATTR_NAME.match(src, i)
            if not m:
                self.error(i, f"unexpected {src[i]!r} in <{name}>")
                if src[i] == "<":
                    out.append(StartTok(name, attrs, False, start))
                    return i
                i += 1
                continue
            aname, apos = m.group(), i
            i = m.end()
            value: str | None = None
            vpos = i
            k = i
            while k < n and src[k] in " \t\n":
                k += 1
            if k < n and src[k] == "=":
                k += 1
                while k < n and src[k] in " \t\n":
                    k += 1
                if k < n and src[k] in "'\"":
                    quote = src[k]
                    vpos = j = k + 1
                    while j < n and src[j] != quote:
                        if src.startswith("{{", j):
                            e = skip_mustache(src, j)
                            # an unclosed `{{` is text here (`<import src>` takes it as it is); where the
                            # value is evaluated, the code generator reports it
                            j = e if e >= 0 else j + 2
                            continue
                        j += 1
                    if j >= n:
                        self.error(k, f"unterminated value of attribute {aname!r}")
                        value, i = src[vpos:], n
                    else:
                        value, i = src[vpos:j], j + 1
                        if "\n" in value:
                            self.warn(vpos + value.index("\n"),
                                      f"line break in the value of {aname!r}: WeChat's older compilers refuse it")
                elif (e := src.find('"', k)) >= 0 and "\n" not in src[k:e] and _ATTR_NAME.match(src, k):
                    # as wcc: a value without its opening quote (starting like a name) runs to the next `"`
                    # on its line
                    self.warn(k, f"the value of attribute {aname!r} has no opening quote", "wxml-quote")
                    vpos, value, i = k, src[k:e], e + 1
                else:
                    vm = _UNQUOTED.match(src, k)
                    if not vm or src.startswith("/>", k):
                        self.error(k, f"missing value of attribute {aname!r}")
                        i = k
                    else:  # wcc refuses unquoted values; read it anyway so the errors that follow make sense
                        self.error(k, f"the value of attribute {aname!r} must be quoted")
                        vpos = k
                        value = vm.group()
                        if value.endswith("/") and src[vm.end() : vm.end() + 1] == ">":
                            value = value[:-1]
                            i = vm.end() - 1
                        else:
                            i = vm.end()
            if aname in seen:  # as WeChat: the last one wins
                self.warn(apos, f"duplicate attribute {aname!r} on <{name}>: the last one is used", "wxml-duplicate")
                idx = next(k for k, a in enumerate(attrs) if a.name == aname)
                attrs[idx] = Attr(aname, value, apos, vpos)
            else:
                seen.add(aname)
                attrs.append(Attr(aname, value, apos, vpos))
        out.append(StartTok(name, attrs, False, start))
        if name in RAW_TEXT_TAGS:
            close = src.find(f"</{name}", i)
            if close < 0:
                self.error(start, f"unclosed <{name}>")
                out.append(TextTok(src[i:], i))
                return n
            out.append(TextTok(src[i:close], i))
            return close
        return i


def tokenize(path: str, src: str, sink: ErrorSink) -> list[Token]:
    return Lexer(path, src, sink).tokens()
