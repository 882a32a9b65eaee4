"""Content-addressed blob storage for packages and bundles.

`BlobStore` is the interface; `LocalBlobStore` keeps blobs as files named by their SHA-256. An
S3-compatible store implements the same four methods (put is idempotent, keys are hashes).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(KeyError):
    """No blob with this hash."""


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data`, return its SHA-256 hex digest."""

    def get(self, sha256: str) -> bytes: ...

    def size(self, sha256: str) -> int: ...

    def read_range(self, sha256: str, start: int, end: int) -> bytes:
        """Bytes `start..end` inclusive."""


def check_sha256(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise BlobNotFound(sha256)
    return sha256


class LocalBlobStore:
    """Blobs in `root/ab/abcdef...`, written atomically (temp file + rename)."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError as e:
            raise BlobNotFound(sha256) from e

    def size(self, sha256: str) -> int:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError as e:
            raise BlobNotFound(sha256) from e

    def read_range(self, sha256: str, start: int, end: int) -> bytes:
        try:
            with self._path(sha256).open("rb") as f:
                f.seek(start)
                return f.read(end - start + 1)
        except FileNotFoundError as e:
            raise BlobNotFound(sha256) from e
