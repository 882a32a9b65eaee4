"""Safe extraction of uploaded zip archives: reject hostile entries, never repair them (PKG-01..03)."""

from __future__ import annotations

import io
import stat
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath

from minibox.platform.errors import InvalidInput

MAX_ENTRIES = 5000
#: Bytes actually inflated, all entries together (WeChat's 20 MB plus margin for sources).
MAX_TOTAL_BYTES = 40 * 1024 * 1024
MAX_RATIO = 200
_CHUNK = 64 * 1024


class ArchiveRejected(InvalidInput):
    code = "archive_rejected"


def _reject(entry: str, rule: str, why: str) -> ArchiveRejected:
    return ArchiveRejected(f"archive entry {entry!r} rejected ({rule}): {why}", details={"entry": entry, "rule": rule})


def check_name(name: str) -> str:
    if "\\" in name or "\x00" in name:
        raise _reject(name, "path", "backslashes and NUL are not allowed")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _reject(name, "path", "absolute paths are not allowed")
    parts = PurePosixPath(name).parts
    norm = [unicodedata.normalize("NFKC", p) for p in parts]
    if any(p in ("..", ".") for p in norm) or not parts:
        raise _reject(name, "path", "'..' and '.' segments are not allowed")
    return name


def safe_extract(data: bytes, dest: Path) -> list[str]:
    """Extract every file of the zip `data` into `dest`; returns the file names."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise ArchiveRejected(f"not a zip archive: {e}", details={"rule": "format"}) from e
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ArchiveRejected(f"more than {MAX_ENTRIES} entries", details={"rule": "entries"})
    seen: set[str] = set()
    offsets: set[int] = set()
    for info in infos:
        check_name(info.filename)
        key = unicodedata.normalize("NFC", info.filename.rstrip("/")).casefold()
        if key in seen:
            raise _reject(info.filename, "duplicate", "two entries with the same name")
        seen.add(key)
        if info.header_offset in offsets:
            raise _reject(info.filename, "overlap", "entries share data")
        offsets.add(info.header_offset)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise _reject(info.filename, "symlink", "links are not allowed")
        if info.flag_bits & 0x1:
            raise _reject(info.filename, "encrypted", "encrypted entries are not allowed")
    total, names = 0, []
    dest.mkdir(parents=True, exist_ok=True)
    for info in infos:
        target = dest / info.filename
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with zf.open(info) as src, target.open("wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                total += len(chunk)
                if total > MAX_TOTAL_BYTES:
                    raise _reject(info.filename, "size", f"archive inflates past {MAX_TOTAL_BYTES} bytes")
                if written > 1024 * 1024 and written > MAX_RATIO * max(info.compress_size, 1):
                    raise _reject(info.filename, "ratio", f"compression ratio over {MAX_RATIO}")
                out.write(chunk)
        names.append(info.filename)
    return names


def deterministic_zip(root: Path) -> bytes:
    """The files under `root` as a zip with sorted names and fixed timestamps (same input, same bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()
