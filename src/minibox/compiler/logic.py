"""Logic-layer JS: the lexical checks WeChat applies (no `eval`, no `new Function`) and the module wrapper."""

from __future__ import annotations

import json

from .errors import CompileError, line_col
from .jstokens import JsSyntaxError, Token, tokenize

#: The one `new Function(...)` body WeChat allows (it is how libraries find the global object).
ALLOWED_FUNCTION_BODIES = frozenset({"return this"})
#: Objects through which `obj.eval(...)` still reaches the global eval.
GLOBAL_OBJECTS = frozenset({"globalThis", "window", "global", "self"})


def _str_value(tok: Token) -> str | None:
    if tok.kind == "str":
        return tok.value[1:-1]
    if tok.kind == "template" and tok.value.endswith("`") and "${" not in tok.value:
        return tok.value[1:-1]
    return None


def check_logic(path: str, src: str) -> list[CompileError]:
    """Errors for forbidden dynamic code in one JS file (a token check, never inside strings or comments)."""
    try:
        toks = tokenize(src)
    except JsSyntaxError as exc:
        line, col = line_col(src, exc.offset)
        return [CompileError(path, line, col, exc.message, "js-syntax")]
    errors: list[CompileError] = []
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
            errors.append(
                CompileError(path, line, col, "eval() is not supported in mini-programs", "no-eval")
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
            errors.append(
                CompileError(
                    path, line, col, "new Function() is not supported in mini-programs", "no-new-function"
                )
            )
    return errors


def wrap_module(path: str, src: str) -> str:
    """One `__mbDefine` call for a logic module (`path` with `.js`)."""
    if src.startswith("\ufeff"):
        src = src[1:]
    if src.startswith("#!"):
        src = "//" + src
    return f"__mbDefine({json.dumps(path)}, function (require, module, exports) {{\n{src}\n}});\n"
