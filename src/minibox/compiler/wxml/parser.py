"""WXML parser: tokens to a Document tree, recovering from mismatched and unclosed tags so that
later errors in the same file are still reported."""

from __future__ import annotations

from ..errors import ErrorSink, line_col
from .lexer import EndTok, StartTok, TextTok, normalise, tokenize
from .nodes import Document, Element, Text

#: Deepest element nesting accepted (deeper input is a typed error, never a Python RecursionError).
MAX_DEPTH = 128


def parse(path: str, source: str, sink: ErrorSink) -> Document:
    """Parse one WXML file; errors go to `sink` and parsing continues."""
    src = normalise(source)
    root = Element("#root", [], [], 0)
    stack: list[Element] = [root]

    def error(pos: int, message: str) -> None:
        line, col = line_col(src, pos)
        sink.add(path, line, col, message, "wxml-syntax")

    too_deep = False
    for tok in tokenize(path, src, sink):
        if isinstance(tok, TextTok):
            stack[-1].children.append(Text(tok.value, tok.pos))
        elif isinstance(tok, StartTok):
            el = Element(tok.name, tok.attrs, [], tok.pos, tok.self_closing)
            if len(stack) > MAX_DEPTH:  # keep matching tags, but drop the too-deep subtree
                if not too_deep:
                    error(tok.pos, f"elements nested deeper than {MAX_DEPTH}")
                    too_deep = True
            else:
                stack[-1].children.append(el)
            if not tok.self_closing:
                stack.append(el)
        elif isinstance(tok, EndTok):
            if stack[-1].tag == tok.name:
                stack.pop()
                continue
            idx = next((k for k in range(len(stack) - 1, 0, -1) if stack[k].tag == tok.name), None)
            if idx is None:
                error(tok.pos, f"end tag </{tok.name}> has no matching start tag")
                continue
            for el in stack[idx + 1 :][::-1]:
                error(el.pos, f"<{el.tag}> is not closed (found </{tok.name}>)")
            del stack[idx:]
    for el in stack[1:][::-1]:
        error(el.pos, f"<{el.tag}> is not closed")
    return Document(path, src, root.children)
