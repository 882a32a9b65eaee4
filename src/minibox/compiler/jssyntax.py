"""Syntax check of one logic module by the engine that will run it, so a module that cannot be
parsed is replaced by one that throws its SyntaxError when required: it fails alone, never logic.js.

The source is parsed (never called) as the body of the same wrapper function `wrap_module` uses, in a
fresh QuickJS context that has no host functions, with a memory and a time limit. A source crafted
to close the wrapper early could run code here; it finds an empty engine and is stopped at the
limits, which is why the check needs no more trust than the sandbox itself.
"""

from __future__ import annotations

import json
import re

import quickjs

from .errors import CompileError

#: Memory a syntax check may use (the parser's own tree of a large bundled library fits easily).
CHECK_MEMORY_BYTES = 256 << 20
#: CPU seconds one check may take.
CHECK_SECONDS = 5.0
#: JS stack of the check: below the 4 MiB an instance has (runtime/engine.py DEFAULT_STACK_LIMIT), less
#: the frames logic.js puts around a module, so a module nested too deeply for the instance to parse is
#: found here and fails alone instead of failing all of logic.js at launch.
CHECK_STACK_BYTES = 3 << 20
#: Lines the wrapper puts before the module's first line.
WRAPPER_LINES = 1
_WRAPPER_HEAD = "(function (require, module, exports) {\n"
_LOCATION = re.compile(r"at <input>:(\d+):(\d+)")


def check_syntax(path: str, src: str) -> CompileError | None:
    """The first syntax error of a module as the engine reports it (file:line:col), or None."""
    ctx = quickjs.Context()
    ctx.set_memory_limit(CHECK_MEMORY_BYTES)
    ctx.set_time_limit(CHECK_SECONDS)
    ctx.set_max_stack_size(CHECK_STACK_BYTES)
    try:
        ctx.eval(_WRAPPER_HEAD + src + "\n})")
    except quickjs.JSException as exc:
        text = str(exc)
        first = text.split("\n", 1)[0]
        if first.startswith("RangeError: Maximum call stack size exceeded"):
            return CompileError(path, 1, 1, "SyntaxError: too deeply nested to parse (the engine's stack is "
                                f"{CHECK_STACK_BYTES >> 20} MiB)", "js-syntax")
        if not first.startswith("SyntaxError"):
            return None  # only code that broke out of the wrapper can throw anything else
        m = _LOCATION.search(text)
        line, col = (int(m.group(1)) - WRAPPER_LINES, int(m.group(2))) if m else (1, 1)
        line = max(1, line)
        message = first.removeprefix("SyntaxError: ")
        return CompileError(path, line, col, f"SyntaxError: {message}", "js-syntax")
    except Exception:
        return CompileError(path, 1, 1, "module too large or too deeply nested to parse", "js-syntax")
    return None


def failing_module(path: str, error: CompileError) -> str:
    """A logic module that throws `error` as a SyntaxError each time it is required."""
    message = json.dumps(f"{error.file}:{error.line}:{error.column}: {error.message.removeprefix('SyntaxError: ')}")
    return (
        f"__mbDefine({json.dumps(path)}, function () {{ throw new SyntaxError({message}); }});\n"
    )
