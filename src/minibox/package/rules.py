"""The unpack policy: which entries a package may hold, and the limits on them.

Every rule here refuses; nothing is renamed, stripped or skipped. The checks that need only the
manifest (`check_entry_path`, `check_layout`, `check_limits`) run over the whole entry list before
a single byte is written; `check_content` runs on each entry's bytes after they were inflated
(bounded by the declared size) and before they are written.

Bundle layout (docs/internals.md section 1): `bundle.json`, `diagnostics.json`, `logic.js`, `render.js`,
`styles/<path>.css`, `assets/<path>`. Executable code reaches the engine only as JS *source*
in `logic.js` / `render.js`; engine bytecode is refused wherever it appears (SECURITY.md, Q2).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from minibox.package.errors import LimitError, UnsafeEntryError

#: Most entries a package may hold.
MAX_ENTRIES = 5_000
#: Largest total unpacked size of a package (WeChat: 20 MB in all, plus compiler overhead).
MAX_TOTAL_SIZE = 32 * 1024 * 1024
#: Largest single unpacked entry.
MAX_ENTRY_SIZE = 16 * 1024 * 1024
#: Highest compression ratio (size / compressed size) of an entry larger than RATIO_FLOOR.
MAX_RATIO = 100
#: Entries at most this large are exempt from the ratio rule (they cannot be a bomb).
RATIO_FLOOR = 64 * 1024
#: Longest entry path in UTF-8 bytes, and deepest nesting.
MAX_PATH_BYTES = 255
MAX_PATH_DEPTH = 16

#: Top-level files of a compiled bundle that the engine or loader reads as text.
TEXT_FILES = ("bundle.json", "diagnostics.json", "logic.js", "render.js")
#: Extensions of executable code, never allowed among assets.
CODE_EXTENSIONS = (".js", ".mjs", ".cjs", ".jsc", ".qjsc", ".qjs", ".wasm", ".wxs", ".bin", ".bc", ".pyc")
#: QuickJS's `JS_WriteObject` output starts with its BC_VERSION byte (small, below 0x20 in every
#: bellard/quickjs-ng release), WebAssembly with NUL: source text never starts with a C0 control
#: byte other than tab/CR/LF, so such a first byte is named bytecode.
BYTECODE_FIRST_BYTES = frozenset(b for b in range(0x20) if chr(b) not in "\t\n\r")
#: C0 controls other than tab, LF, VT, FF, CR never occur in source text.
_DISALLOWED_CONTROL = re.compile("[\x00-\x08\x0e-\x1f]")
#: bytes.translate's delete table leaving only those control bytes.
_NOT_DISALLOWED_CONTROL = bytes(b for b in range(256) if not _DISALLOWED_CONTROL.match(chr(b)))
_WIN_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


@dataclass(frozen=True)
class Limits:
    """The archive limits in force; tests and the bench may tighten them."""

    max_entries: int = MAX_ENTRIES
    max_total_size: int = MAX_TOTAL_SIZE
    max_entry_size: int = MAX_ENTRY_SIZE
    max_ratio: int = MAX_RATIO
    ratio_floor: int = RATIO_FLOOR


def _unsafe(rule: str, entry: str, detail: str) -> UnsafeEntryError:
    return UnsafeEntryError(rule, entry, detail)


def check_entry_path(path: str) -> str:
    """Refuse any path that is not a plain relative `/`-separated name; return its collision key."""
    if not isinstance(path, str) or path == "":
        raise _unsafe("path-empty", repr(path), "empty entry name")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise _unsafe("path-too-long", path, f"longer than {MAX_PATH_BYTES} bytes")
    for ch in path:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise _unsafe("path-control-char", path, f"character U+{ord(ch):04X} not allowed")
    if "\\" in path:
        raise _unsafe("path-backslash", path, "backslash in entry name")
    if path.startswith("/") or (len(path) >= 2 and path[1] == ":"):
        raise _unsafe("path-absolute", path, "absolute entry name")
    if ":" in path:
        raise _unsafe("path-colon", path, "':' in entry name (drive or stream)")
    if unicodedata.normalize("NFC", path) != path:
        raise _unsafe("path-not-nfc", path, "entry name is not NFC-normalised")
    parts = path.split("/")
    if len(parts) > MAX_PATH_DEPTH:
        raise _unsafe("path-too-deep", path, f"more than {MAX_PATH_DEPTH} levels")
    for part in parts:
        folded = unicodedata.normalize("NFKC", part)
        if folded == "..":
            raise _unsafe("path-traversal", path, "'..' component")
        if part in ("", ".") or folded == ".":
            raise _unsafe("path-dot", path, "empty or '.' component")
        if part != part.strip() or part.endswith("."):
            raise _unsafe("path-trailing", path, "component with leading/trailing space or trailing dot")
        if part.split(".")[0].lower() in _WIN_RESERVED:
            raise _unsafe("path-reserved", path, "reserved device name")
    return unicodedata.normalize("NFKC", path).casefold()


def check_unique(paths: list[str]) -> None:
    """No two entries may name the same file, even after case folding and Unicode normalisation,
    and no file may also be used as a directory."""
    seen: dict[str, str] = {}
    for path in paths:
        key = check_entry_path(path)
        if key in seen:
            rule = "duplicate-entry" if seen[key] == path else "duplicate-entry-folded"
            raise _unsafe(rule, path, f"collides with {seen[key]!r}")
        seen[key] = path
    for key, path in seen.items():
        parent = PurePosixPath(key).parent
        while str(parent) != ".":
            if str(parent) in seen:
                raise _unsafe("path-conflict", path, f"{seen[str(parent)]!r} is a file, not a directory")
            parent = parent.parent


def check_layout(path: str, subpackage_roots: list[str]) -> str:
    """Refuse entries outside the compiled-bundle layout; return the part the entry belongs to."""
    name = PurePosixPath(path)
    lower = path.lower()
    if path in TEXT_FILES:
        return "main"
    if path.startswith("styles/"):
        if not lower.endswith(".css"):
            raise _unsafe("layout", path, "only .css files may live under styles/")
        rel = path[len("styles/") :]
    elif path.startswith("assets/"):
        if name.suffix.lower() in CODE_EXTENSIONS:
            raise _unsafe("asset-code", path, f"{name.suffix} files are code, not assets")
        rel = path[len("assets/") :]
    elif name.suffix.lower() in CODE_EXTENSIONS:
        raise _unsafe("bytecode-file", path, "code files outside logic.js/render.js (engine bytecode?)")
    else:
        raise _unsafe("layout", path, "not part of the compiled bundle layout")
    for root in subpackage_roots:
        if rel.startswith(root):
            return root
    return "main"


def check_text(path: str, data: bytes) -> None:
    """A source file must be UTF-8 text without control bytes: that excludes engine bytecode."""
    if data and data[0] in BYTECODE_FIRST_BYTES:
        raise _unsafe("bytecode", path, f"starts with byte 0x{data[0]:02x} (engine bytecode, not source)")
    if data.startswith(b"\xef\xbb\xbf"):
        raise _unsafe("source-text", path, "byte order mark in source text")
    if not data.isascii():  # ASCII is UTF-8 (the common case, checked at memory speed)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _unsafe("source-text", path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    # in UTF-8 no byte of a multi-byte sequence is below 0x80: a control byte is a control character
    if data.translate(None, _NOT_DISALLOWED_CONTROL):
        text = data.decode("utf-8")
        bad = _DISALLOWED_CONTROL.search(text)
        assert bad is not None
        raise _unsafe("source-text", path, f"control character U+{ord(bad.group()):04X} at {bad.start()}")


def is_text_entry(path: str) -> bool:
    return path in TEXT_FILES or (path.startswith("styles/") and path.lower().endswith(".css"))


def check_content(path: str, data: bytes) -> None:
    """Content rules, applied to an entry's bytes before they are written."""
    if is_text_entry(path):
        check_text(path, data)


def check_limits(entries: list[tuple[str, int, int]], limits: Limits) -> None:
    """`entries` holds (path, size, csize); refuse counts, sizes and ratios over the limits."""
    if len(entries) > limits.max_entries:
        raise LimitError("too-many-entries", entries[limits.max_entries][0],
                         f"{len(entries)} entries > {limits.max_entries}")
    total = 0
    for path, size, csize in entries:
        if size > limits.max_entry_size:
            raise LimitError("entry-too-large", path, f"{size} bytes > {limits.max_entry_size}")
        total += size
        if total > limits.max_total_size:
            raise LimitError("package-too-large", path, f"total {total} bytes > {limits.max_total_size}")
        if size > limits.ratio_floor and size > limits.max_ratio * max(csize, 1):
            raise LimitError("compression-ratio", path, f"{size}/{csize} exceeds {limits.max_ratio}:1")
