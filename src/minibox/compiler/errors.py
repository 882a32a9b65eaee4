"""Typed compile errors: every error names file:line:column; all errors are collected and raised together."""

from __future__ import annotations

from collections.abc import Iterable

#: How many errors a build collects before it stops reporting more (a bad file must not flood the console).
MAX_ERRORS = 500


class CompileError(Exception):
    """One finding at a place in one source file (1-based line and column).

    `severity` is "error" (the file cannot be compiled) or "warning" (WeChat accepts it; so do we)."""

    def __init__(
        self, file: str, line: int, column: int, message: str, code: str = "error", severity: str = "error"
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.code = code
        self.severity = severity
        super().__init__(str(self))

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"

    def __str__(self) -> str:
        tag = "warning: " if self.is_warning else ""
        return f"{self.file}:{self.line}:{self.column}: {tag}{self.message} [{self.code}]"

    def __repr__(self) -> str:
        return (
            f"CompileError({self.file!r}, {self.line}, {self.column}, {self.message!r}, {self.code!r}, "
            f"{self.severity!r})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "code": self.code,
            "severity": self.severity,
        }


class CompileErrors(Exception):
    """Every error found in a file or a project, raised together."""

    def __init__(self, errors: Iterable[CompileError], warnings: Iterable[CompileError] = ()) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.column))
        self.warnings = sorted(warnings, key=lambda e: (e.file, e.line, e.column))
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
    """Collects errors and warnings while a stage keeps going, so later findings are still made."""

    def __init__(self) -> None:
        self.errors: list[CompileError] = []
        self.warnings: list[CompileError] = []
        self._seen: set[tuple[str, int, int, str, str, str]] = set()
        #: errors reported, repeats included: a stage compares it before and after to learn whether
        #: its input failed (a shared file's error is kept once but fails each user)
        self.error_reports = 0

    def _keep(self, e: CompileError) -> None:
        """Record `e` unless the same finding was made already (two stages may see one fault)."""
        self.error_reports += not e.is_warning
        key = (e.file, e.line, e.column, e.message, e.code, e.severity)
        bucket = self.warnings if e.is_warning else self.errors
        if key not in self._seen and len(bucket) < MAX_ERRORS:
            self._seen.add(key)
            bucket.append(e)

    def add(self, file: str, line: int, column: int, message: str, code: str = "error") -> None:
        self._keep(CompileError(file, line, column, message, code))

    def warn(self, file: str, line: int, column: int, message: str, code: str = "warning") -> None:
        """Something WeChat accepts but a developer should know about; it never fails a build."""
        self._keep(CompileError(file, line, column, message, code, "warning"))

    def extend(self, errors: Iterable[CompileError]) -> None:
        for e in errors:
            self._keep(e)

    def files_with_errors(self) -> set[str]:
        return {e.file for e in self.errors}

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
