"""WXML: lexer -> parser -> nodes -> codegen."""

from .codegen import CompiledWxml, WxsRef, compile_document, dataset_key, resolve_path
from .parser import parse

__all__ = ["CompiledWxml", "WxsRef", "compile_document", "dataset_key", "parse", "resolve_path"]
