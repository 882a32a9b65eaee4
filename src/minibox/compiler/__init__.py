"""minibox.compiler: a WeChat mini-program project to a bundle directory.

Stages, one module each: `project` (app.json, page/component json, usingComponents) ->
`wxml` (lexer -> parser -> nodes -> codegen, using `expr` for `{{ }}`) and `wxs` -> render.js;
`logic` -> logic.js; `wxss` -> styles/; `bundle` assembles and writes. Errors: `errors`.
"""

from .bundle import Bundle, compile_project, compile_to_memory
from .errors import CompileError, CompileErrors

__all__ = ["Bundle", "CompileError", "CompileErrors", "compile_project", "compile_to_memory"]
