"""Typed compile errors: every error names file:line:column; all errors are collected and raised together."""

from __future__ import annotations

from collections.abc import Iterable

#: How many errors a build collects before it stops reporting more (a bad file must not flood the console).
MAX_ERRORS = 500


class CompileError(Exception):
    """One error at a place in one source file (1-based line and column)."""

    def __init__(self, file: str, line: int, column: int, message: str, code: str = "error") -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.code = code
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message} [{self.code}]"

    def __repr__(self) -> str:
        return f"CompileError({self.file!r}, {self.line}, {self.column}, {self.message!r}, {self.code!r})"


class CompileErrors(Exception):
    """Every error found in a file or a project, raised together."""

    def __init__(self, errors: Iterable[CompileError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.column))
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.errors)
        head = f"{n} compile error{'s' if n != 1 else ''}"
        return "\n".join([head, *(str(e) for e in self.errors)])

    def __iter__(self):
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)


class ErrorSink:
    """Collects errors while a stage keeps going, so later errors are still found."""

    def __init__(self) -> None:
        self.errors: list[CompileError] = []

    def add(self, file: str, line: int, column: int, message: str, code: str = "error") -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(CompileError(file, line, column, message, code))

    def extend(self, errors: Iterable[CompileError]) -> None:
        for e in errors:
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(e)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise CompileErrors(self.errors)


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset in `text`."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1
