"""A lexical scanner for JavaScript (ES2023) source: enough to find tokens outside strings, comments,
template literals and regular expressions. Used by the logic checks (`eval(`), the ES module transform
(esm.py) and the WXS rewriter."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import line_col

_IDENT = re.compile(r"[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*")
_NUMBER = re.compile(
    r"(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?"
)
_PUNCT = re.compile(
    r">>>=|\.\.\.|===|!==|\*\*=|<<=|>>=|>>>|\?\?=|&&=|\|\|=|=>|==|!=|<=|>=|&&|\|\||\?\?|\?\.(?!\d)|\+\+|--|"
    r"\+=|-=|\*=|/=|%=|&=|\|=|\^=|<<|>>|\*\*|[{}()\[\];,<>+\-*/%&|^!~?:=.@#]"
)
#: Keywords after which a `/` starts a regular expression, not a division.
_REGEX_AFTER_WORDS = frozenset(
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
        "yield",
        "await",
    ]
)


#: Keywords whose parenthesised condition may be followed by a statement starting with a regex.
_CONDITION_WORDS = frozenset(["if", "while", "for", "with"])


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ident | num | str | template | regex | punct
    value: str
    start: int
    end: int


class JsSyntaxError(Exception):
    """The scanner met something it cannot tokenise (an unterminated string, comment, ...)."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def _regex_allowed(prev: Token | None) -> bool:
    if prev is None:
        return True
    if prev.kind in ("num", "str", "template", "regex"):
        return False
    if prev.kind == "ident":
        return prev.value in _REGEX_AFTER_WORDS
    return prev.value not in (")", "]", "}")


def _scan_string(src: str, i: int, quote: str) -> int:
    n = len(src)
    j = i + 1
    while j < n:
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == quote:
            return j + 1
        if c == "\n":
            break
        j += 1
    raise JsSyntaxError(i, "unterminated string literal")


def _scan_regex(src: str, i: int) -> int:
    n = len(src)
    j = i + 1
    in_class = False
    while j < n:
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == "\n":
            break
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            j += 1
            while j < n and (src[j].isalnum() or src[j] in "_$"):
                j += 1
            return j
        j += 1
    raise JsSyntaxError(i, "unterminated regular expression")


def _scan_template_part(src: str, i: int) -> tuple[int, bool]:
    """Scan template characters from i; return (end, ended_with_backtick)."""
    n = len(src)
    j = i
    while j < n:
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == "`":
            return j + 1, True
        if c == "$" and j + 1 < n and src[j + 1] == "{":
            return j + 2, False
        j += 1
    raise JsSyntaxError(i, "unterminated template literal")


def tokenize(src: str) -> list[Token]:
    """Tokens of `src`, without comments and whitespace. Raises JsSyntaxError."""
    out: list[Token] = []
    braces: list[str] = []  # "{" or "`" (inside a template substitution)
    parens: list[bool] = []  # per open "(": whether it holds the condition of if/while/for/with
    regex_after_close = False  # the last token is the ")" of such a condition: `if (x) /re/.test(y)`
    i = 0
    n = len(src)
    prev: Token | None = None
    while i < n:
        c = src[i]
        if c in " \t\r\n\ufeff\u00a0\u2028\u2029\v\f":
            i += 1
            continue
        if c == "/" and i + 1 < n and src[i + 1] == "/":
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and i + 1 < n and src[i + 1] == "*":
            j = src.find("*/", i + 2)
            if j < 0:
                raise JsSyntaxError(i, "unterminated comment")
            i = j + 2
            continue
        if c in "'\"":
            j = _scan_string(src, i, c)
            tok = Token("str", src[i:j], i, j)
        elif c == "`" or (c == "}" and braces and braces[-1] == "`"):
            if c == "}":
                braces.pop()
            j, done = _scan_template_part(src, i + 1)
            if not done:
                braces.append("`")
            tok = Token("template", src[i:j], i, j)
        elif c == "/" and (regex_after_close or _regex_allowed(prev)):
            j = _scan_regex(src, i)
            tok = Token("regex", src[i:j], i, j)
        else:
            m = _IDENT.match(src, i)
            if m and not c.isdigit():
                tok = Token("ident", m.group(), i, m.end())
            elif c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
                m = _NUMBER.match(src, i)
                assert m is not None
                tok = Token("num", m.group(), i, m.end())
            else:
                m = _PUNCT.match(src, i)
                if not m:
                    if c == "\\":  # unicode escape in an identifier: take the word
                        m2 = re.compile(r"[\\\w$]+").match(src, i)
                        assert m2 is not None
                        tok = Token("ident", m2.group(), i, m2.end())
                        out.append(tok)
                        prev = tok
                        regex_after_close = False
                        i = tok.end
                        continue
                    raise JsSyntaxError(i, f"unexpected character {c!r}")
                tok = Token("punct", m.group(), i, m.end())
                if tok.value == "{":
                    braces.append("{")
                elif tok.value == "}" and braces:
                    braces.pop()
                elif tok.value == "(":
                    parens.append(prev is not None and prev.kind == "ident" and prev.value in _CONDITION_WORDS)
        closes_condition = tok.value == ")" and tok.kind == "punct" and bool(parens) and parens.pop()
        regex_after_close = closes_condition
        out.append(tok)
        prev = tok
        i = tok.end
    return out


def position(src: str, offset: int) -> tuple[int, int]:
    """1-based line and column of an offset."""
    return line_col(src, offset)
