"""WXML's expression language (the inside of `{{ }}`): lexer, parser and JS code generation.

Supported as in WeChat/glass-easel: literals, names, member access that yields undefined on
null/undefined, calls (of WXS module functions), unary `! - + ~ typeof void`, arithmetic, comparison,
bit and logic operators, `??`, the ternary, array and object literals with spread, and at top level
an object body without braces (`{{a: 1, ...b, c}}`) as used by `<template data>`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field

#: Deepest nesting of an expression (guards the recursive parser against hostile input).
MAX_EXPR_DEPTH = 100

Node = tuple  # ("lit", v) ("id", name) ("mem", obj, key) ("call", callee, args) ("un", op, x)
#               ("bin", op, l, r) ("cond", c, a, b) ("arr", items) ("obj", props) ("spread", x)


class ExprError(Exception):
    """A bad expression; `offset` is relative to the start of the expression source."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      |(?P<num>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
      |(?P<id>[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*)
      |(?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
      |(?P<op>\.\.\.|===|!==|>>>|==|!=|<=|>=|&&|\|\||\?\?|<<|>>|[-+*/%<>!~&|^?:.,()\[\]{}])""",
    re.X | re.S,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_BINARY = {
    "??": 1, "||": 2, "&&": 3, "|": 4, "^": 5, "&": 6,
    "==": 7, "!=": 7, "===": 7, "!==": 7,
    "<": 8, ">": 8, "<=": 8, ">=": 8,
    "<<": 9, ">>": 9, ">>>": 9,
    "+": 10, "-": 10, "*": 11, "/": 11, "%": 11,
}  # fmt: skip
_UNARY_WORDS = frozenset({"typeof", "void"})
_LITERAL_WORDS = {"true": True, "false": False, "null": None}


@dataclass(slots=True)
class _Tok:
    kind: str
    value: str
    pos: int


def _unescape(body: str, pos: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif e == "u":
            if body[i + 2 : i + 3] == "{":
                end = body.index("}", i)
                out.append(chr(int(body[i + 3 : end], 16)))
                i = end + 1
            else:
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
        else:
            out.append(e)
            i += 2
    return "".join(out)


def tokenize(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(src):
        m = _TOKEN.match(src, i)
        if not m:
            raise ExprError(i, f"unexpected character {src[i]!r} in expression")
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), i))
        i = m.end()
    toks.append(_Tok("end", "", len(src)))
    return toks


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = tokenize(src)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, value: str) -> bool:
        t = self.tok
        return t.kind == "op" and t.value == value

    def expect(self, value: str) -> _Tok:
        if not self.at(value):
            raise ExprError(
                self.tok.pos, f"expected {value!r} but found {self.tok.value or 'end of expression'!r}"
            )
        return self.next()

    def top(self) -> Node:
        if self.tok.kind == "end":
            raise ExprError(0, "empty expression")
        t0, t1 = self.tok, self.peek()
        if (t0.kind == "op" and t0.value == "...") or (
            t0.kind in ("id", "str", "num") and t1.kind == "op" and t1.value in (":", ",")
        ):
            node = self.object_body("end")
        else:
            node = self.expression()
        if self.tok.kind != "end":
            raise ExprError(self.tok.pos, f"unexpected {self.tok.value!r} in expression")
        return node

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_EXPR_DEPTH:
            raise ExprError(self.tok.pos, "expression nested too deeply")
        cond = self.binary(0)
        if self.at("?"):
            self.next()
            a = self.expression()
            self.expect(":")
            b = self.expression()
            cond = ("cond", cond, a, b)
        self.depth -= 1
        return cond

    def binary(self, min_prec: int) -> Node:
        left = self.unary()
        while True:
            t = self.tok
            if t.kind == "op":
                prec = _BINARY.get(t.value)
            else:
                prec = 8 if t.kind == "id" and t.value == "instanceof" else None
            if prec is None or prec <= min_prec:
                return left
            self.next()
            right = self.binary(prec)
            left = ("bin", t.value, left, right)

    def unary(self) -> Node:
        t = self.tok
        if (t.kind == "op" and t.value in ("!", "-", "+", "~")) or (
            t.kind == "id" and t.value in _UNARY_WORDS
        ):
            self.next()
            self.depth += 1
            if self.depth > MAX_EXPR_DEPTH:
                raise ExprError(t.pos, "expression nested too deeply")
            x = self.unary()
            self.depth -= 1
            return ("un", t.value, x)
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at("."):
                self.next()
                t = self.next()
                if t.kind != "id":
                    raise ExprError(t.pos, "expected a property name after '.'")
                node = ("mem", node, ("lit", t.value))
            elif self.at("["):
                self.next()
                key = self.expression()
                self.expect("]")
                node = ("mem", node, key)
            elif self.at("("):
                self.next()
                args: list[Node] = []
                while not self.at(")"):
                    args.append(self.expression())
                    if not self.at(")"):
                        self.expect(",")
                self.expect(")")
                node = ("call", node, args)
            else:
                return node

    def primary(self) -> Node:
        t = self.next()
        if t.kind == "num":
            v = t.value
            num = int(v, 16) if v[:2] in ("0x", "0X") else float(v)
            if isinstance(num, float) and num.is_integer() and "e" not in v.lower() and "." not in v:
                num = int(num)
            return ("lit", num)
        if t.kind == "str":
            try:
                return ("lit", _unescape(t.value[1:-1], t.pos))
            except (ValueError, IndexError) as exc:
                raise ExprError(t.pos, "bad escape in string literal") from exc
        if t.kind == "id":
            if t.value in _LITERAL_WORDS:
                return ("lit", _LITERAL_WORDS[t.value])
            if t.value == "undefined":
                return ("undef",)
            # as WeChat: `new`, `in`, `this`... alone are plain data names (`{{new X()}}`, `{{a in b}}` still
            # fail: two names in a row)
            return ("id", t.value)
        if t.kind == "op":
            if t.value == "(":
                node = self.expression()
                self.expect(")")
                return node
            if t.value == "[":
                items: list[Node] = []
                while not self.at("]"):
                    if self.at("..."):
                        self.next()
                        items.append(("spread", self.expression()))
                    else:
                        items.append(self.expression())
                    if not self.at("]"):
                        self.expect(",")
                self.expect("]")
                return ("arr", items)
            if t.value == "{":
                return self.object_body("}")
        if t.kind == "end":
            raise ExprError(t.pos, "unexpected end of expression")
        raise ExprError(t.pos, f"unexpected {t.value!r} in expression")

    def object_body(self, close: str) -> Node:
        props: list[Node] = []
        while not (self.tok.kind == "end" if close == "end" else self.at(close)):
            t = self.tok
            if self.at("..."):
                self.next()
                props.append(("spread", self.expression()))
            elif t.kind == "id":  # as WeChat: keys are plain names (no 'quoted', numeric or [computed] keys)
                self.next()
                key = t.value
                if self.at(":"):
                    self.next()
                    props.append(("kv", key, self.expression()))
                else:
                    props.append(("kv", key, ("id", key)))
            elif t.kind in ("str", "num") or self.at("["):
                raise ExprError(t.pos, "object keys must be plain names in WXML expressions")
            else:
                raise ExprError(t.pos, f"unexpected {t.value or 'end of expression'!r} in object literal")
            if close == "end" and self.tok.kind == "end":
                break
            if not self.at(close):
                self.expect(",")
        if close != "end":
            self.expect(close)
        return ("obj", props)


@functools.lru_cache(maxsize=4096)
def parse(src: str) -> Node:
    """Parse the inside of one `{{ }}` (the result is shared: never mutate it). Raises ExprError."""
    return _Parser(src).top()


@dataclass
class Scope:
    """Where names resolve: local variables (wx:for items), WXS modules, then the data object."""

    data: str = "D"
    names: dict[str, str] = field(default_factory=dict)
    wxs: dict[str, str] = field(default_factory=dict)

    def child(self, **names: str) -> Scope:
        return Scope(self.data, {**self.names, **names}, self.wxs)

    def resolve(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        if name in self.wxs:
            return self.wxs[name]
        if name in _UNSAFE_KEYS:
            return f"$g({self.data},{json.dumps(name)})"
        return f"{self.data}[{json.dumps(name)}]" if not name.isidentifier() else f"{self.data}.{name}"


#: Property names that must go through `$g` (which refuses inherited ones).
_UNSAFE_KEYS = frozenset(
    {
        "constructor",
        "__proto__",
        "prototype",
        "__defineGetter__",
        "__defineSetter__",
        "__lookupGetter__",
        "__lookupSetter__",
    }
)


_PLAIN = re.compile(r"[\w .:;,#%()/+*=!?@$&|<>\[\]{}-]*", re.A)


def _lit(v: object) -> str:
    if isinstance(v, str) and _PLAIN.fullmatch(v):
        return f'"{v}"'
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        if v.is_integer():
            return str(int(v))
    return json.dumps(v, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def js(node: Node, scope: Scope) -> str:
    """JavaScript source for an expression node."""
    kind = node[0]
    if kind == "lit":
        return _lit(node[1])
    if kind == "undef":
        return "undefined"
    if kind == "id":
        return scope.resolve(node[1])
    if kind == "mem":
        return f"$g({js(node[1], scope)},{js(node[2], scope)})"
    if kind == "call":
        args = ",".join(js(a, scope) for a in node[2])
        callee = node[1]
        if callee[0] == "mem":
            return f"$m({js(callee[1], scope)},{js(callee[2], scope)},[{args}])"
        return f"$f({js(callee, scope)},[{args}])"
    if kind == "un":
        op = node[1]
        sep = " " if op in _UNARY_WORDS else ""
        return f"({op}{sep}{js(node[2], scope)})"
    if kind == "bin" and node[1] == "instanceof":
        return f"$io({js(node[2], scope)},{js(node[3], scope)})"
    if kind == "bin":
        return f"({js(node[2], scope)}{node[1]}{js(node[3], scope)})"
    if kind == "cond":
        return f"({js(node[1], scope)}?{js(node[2], scope)}:{js(node[3], scope)})"
    if kind == "arr":
        parts = [f"...$a({js(x[1], scope)})" if x[0] == "spread" else js(x, scope) for x in node[1]]
        return f"[{','.join(parts)}]"
    if kind == "obj":
        parts = []
        for p in node[1]:
            if p[0] == "spread":
                parts.append(f"...{js(p[1], scope)}")
            elif p[0] == "kv":
                parts.append(f"{_lit(p[1])}:{js(p[2], scope)}")
            else:
                parts.append(f"[{js(p[1], scope)}]:{js(p[2], scope)}")
        return f"({{{','.join(parts)}}})"
    raise AssertionError(kind)


def names_used(node: Node) -> set[str]:
    """Free names an expression reads (for diagnostics and dependency tracking)."""
    out: set[str] = set()

    def walk(n: object) -> None:
        if isinstance(n, tuple) and n:
            if n[0] == "id":
                out.add(n[1])
                return
            for x in n[1:]:
                walk(x)
        elif isinstance(n, list):
            for x in n:
                walk(x)

    walk(node)
    return out
