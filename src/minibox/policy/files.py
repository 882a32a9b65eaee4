"""The file sandbox behind wx.getFileSystemManager(), saveFile and friends.

Each (host, app, user) owns one directory, `<root>/<keyed digest>/`, holding three areas:
`usr/` (`wx.env.USER_DATA_PATH` = `wxfile://usr`, read-write), `store/` (saved files,
`wxfile://store_<id><ext>`) and `tmp/` (temporary files, `wxfile://tmp_<id><ext>`). Any other path
is a code-package path: read-only, resolved inside the package directory (if the host gave one).

Every path is parsed by `parse_path` (no `..`, `.`, backslash, NUL or control characters, no
component over 255 bytes, no path over 4096 bytes) and then opened *component by component* from
an open directory fd with `O_NOFOLLOW` (openat-style): a symlink anywhere, including a symlinked
parent or a directory swapped for a link between check and use, is refused as
`permission denied`, and only regular files and directories are ever opened (`O_NONBLOCK`, then
`fstat`; FIFOs and devices are refused). Writes go to a temp file in the same directory and are
renamed into place, so a crash leaves the old or the new content, never a torn file.
`usr` + `store` together are capped at 200 MB (WeChat), configurable for tests.

At rest, every file of the three areas is sealed whole with AES-256-GCM under a key derived per
(host, app, user) from the host master key (AAD binds it to the owner): `nonce || ciphertext ||
tag`, so sizes reported to the app are `st_size - SEAL_OVERHEAD`, and a file flipped on disk or
moved into another owner's directory reads as `file corrupted`. Appends re-seal the whole file
(atomically); quotas count the bytes on disk. Code-package files are read as they are.

Keys rotate (`minibox.policy.keys.KeyRing`). A sealed file is `MBF || key version (1 byte) ||
nonce || ciphertext || tag` (the header is authenticated as AAD); a file without the header is
version 1 (written before rotation existed; `SEAL_OVERHEAD` is 32, 28 for those). Owner
directories are named under the current version's name key; `owner_dir` finds an owner's
directory under an older version's name and renames it to the current one (under an exclusive
`flock` on the root). Each directory has a sealed owner record in `<root>/.owners/` so that
rotation can tell whose it is (the names are keyed digests). `rotate(batch)` re-seals files in
place (temp in the same directory, fsync, rename; times kept) under an exclusive `flock` on the
owner's directory, which every writer takes shared: a write is never lost to a concurrent re-seal.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import stat as st
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from minibox.policy.keys import KeyRing, KeyVersionError, as_ring, encode_parts, name_digest
from minibox.policy.storage import Owner

USER_DATA_PATH = "wxfile://usr"
SCHEME = "wxfile://"
#: WeChat: cached plus user files are capped at 200 MB per app and user.
MAX_USER_BYTES = 200 * 1024 * 1024
#: Temporary files (downloads): WeChat allows 4 GB while running; we cap lower (design choice).
MAX_TEMP_BYTES = 1024 * 1024 * 1024
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
#: Names we use for in-flight writes; refused as user names.
TMP_PREFIX = ".mbtmp-"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_AREAS = ("usr", "store", "tmp")

ENOENT = "no such file or directory"
EACCES = "permission denied"
EEXIST = "file already exists"
ENOTEMPTY = "directory not empty"
ENOTDIR = "not a directory"
EISDIR = "illegal operation on a directory"
EPERM = "operation not permitted"
EQUOTA = "the maximum size of the file storage limit is exceeded"
ENAMETOOLONG = "file name too long"
ECORRUPT = "file corrupted"
NONCE_BYTES = 12
#: Sealed files start with this and the key version (one byte); files without it are version 1.
MAGIC = b"MBF"
HEADER_BYTES = len(MAGIC) + 1
#: Bytes a sealed file carries on top of its content (header + nonce + GCM tag).
SEAL_OVERHEAD = HEADER_BYTES + NONCE_BYTES + 16
#: ... and a file sealed before key versions existed (nonce + tag).
LEGACY_SEAL_OVERHEAD = NONCE_BYTES + 16
#: Owner records (whose directory is which, sealed) live here, under the root.
OWNERS_DIR = ".owners"
_OWNER_MAGIC = b"MBO"


class FsError(Exception):
    """A refusal; `message` is the text after `<api>:fail ` (WeChat's shapes)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _fmt(reason: str, op: str, *paths: str) -> FsError:
    if op in ("rename", "copyFile") and len(paths) == 2:
        return FsError(reason, f"{reason}, {op} {paths[0]} -> {paths[1]}")
    if op == "open" or reason == EACCES:
        return FsError(reason, f"{reason}, open {paths[0]}")
    if reason == ENOTEMPTY:
        return FsError(reason, reason)
    if reason == EPERM:
        return FsError(reason, f"{reason}, {op} {paths[0]}")
    return FsError(reason, f"{reason} {paths[0]}")


@dataclass(frozen=True)
class WxPath:
    raw: str
    area: str  # usr | store | tmp | pkg
    parts: tuple[str, ...]

    @property
    def writable(self) -> bool:
        return self.area == "usr"


def parse_path(raw: Any, op: str = "open") -> WxPath:
    """Parse a wx file path; refusals are `permission denied` naming the path as given."""
    if not isinstance(raw, str):
        raise FsError(EACCES, f"{EACCES}, open {raw!r}")
    bad = (len(raw.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES or "\\" in raw
           or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw))
    if bad:
        raise _fmt(EACCES, op, raw)
    if raw.startswith(SCHEME):
        rest = raw[len(SCHEME):]
        head, _, tail = rest.partition("/")
        if head == "usr":
            area, rel = "usr", tail
        elif head.startswith(("store_", "tmp_")) and not tail:
            area, rel = head.split("_", 1)[0], head
        else:
            raise _fmt(EACCES, op, raw)
    else:
        area, rel = "pkg", raw
    parts = tuple(p for p in rel.split("/") if p != "")
    for p in parts:
        if p in (".", "..") or p.startswith(TMP_PREFIX):
            raise _fmt(EACCES, op, raw)
        if len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise _fmt(ENAMETOOLONG, op, raw)
    return WxPath(raw, area, parts)


@dataclass(frozen=True)
class FileStat:
    mode: int
    size: int
    atime: int
    mtime: int

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "size": self.size, "lastAccessedTime": self.atime,
                "lastModifiedTime": self.mtime, "isDirectory": st.S_ISDIR(self.mode),
                "isFile": st.S_ISREG(self.mode)}


def _stat(s: os.stat_result, sealed: bool = True, overhead: int = SEAL_OVERHEAD) -> FileStat:
    size = max(0, s.st_size - overhead) if sealed and st.S_ISREG(s.st_mode) else s.st_size
    return FileStat(s.st_mode, size, int(s.st_atime), int(s.st_mtime))


def _is_dir_name(name: str) -> bool:
    return len(name) == 40 and all(c in "0123456789abcdef" for c in name)


class FileService:
    """File operations for many owners; identity always comes from the caller's `Owner`."""

    def __init__(self, root: str | os.PathLike[str], master_key: bytes | KeyRing, *,
                 package_dir: str | os.PathLike[str] | None = None,
                 quota: int = MAX_USER_BYTES, temp_quota: int = MAX_TEMP_BYTES) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ring = as_ring(master_key)
        self.ring.derive(self.ring.current, "check")  # fail fast on a bad master key
        self._aead: dict[tuple[int, Owner], AESGCM] = {}
        self._name_keys: dict[int, bytes] = {}
        self._gen = self.ring.generation
        #: owners whose directory is known to be current and recorded, this generation
        self._known: dict[Owner, Path] = {}
        self._rot_iter: Iterator[int] | None = None
        self._unrotatable: set[str] = set()
        #: Serialises quota check + write, so concurrent writers cannot overshoot the quota.
        self._write_lock = threading.Lock()
        self.package_dir = Path(package_dir) if package_dir is not None else None
        self.quota = quota
        self.temp_quota = temp_quota

    # -- fd plumbing ----------------------------------------------------------------------
    def _fresh(self) -> None:
        """Drop derived keys and cached directory names when the ring changed."""
        if self._gen != self.ring.generation:
            self._aead, self._name_keys, self._known = {}, {}, {}
            self._gen = self.ring.generation

    def _dir_name(self, o: Owner, ver: int) -> str:
        self._fresh()
        k = self._name_keys.get(ver)
        if k is None:
            k = self._name_keys[ver] = self.ring.derive(ver, "file-dirs")
        return name_digest(k, o.host, o.app, o.user)[:40]

    def holds(self, o: Owner) -> bool:
        """Whether this owner has a file area at all (never creates one)."""
        return any((self.root / self._dir_name(o, v)).is_dir() for v in self.ring.versions())

    @contextlib.contextmanager
    def _flock(self, path: Path, op: int) -> Iterator[int]:
        fd = os.open(path, _DIR_FLAGS)
        try:
            fcntl.flock(fd, op)
            yield fd
        finally:
            os.close(fd)  # releases the lock

    def owner_dir(self, o: Owner) -> Path:
        """The owner's directory under the current key version: created, or renamed from an older
        version's name, on first use (atomically, under an exclusive lock on the root)."""
        self._fresh()
        d = self.root / self._dir_name(o, self.ring.current)
        if self._known.get(o) == d and d.is_dir():
            return d
        with self._flock(self.root, fcntl.LOCK_EX):
            if not d.is_dir():
                old = next((self.root / self._dir_name(o, v) for v in self.ring.versions()[1:]
                            if (self.root / self._dir_name(o, v)).is_dir()), None)
                if old is not None:
                    self._write_record(o, d.name)  # first: a crash leaves both names findable
                    os.rename(old, d)
                    self._fsync_dir(self.root)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.root / OWNERS_DIR / old.name)
                else:
                    tmp = self.root / (TMP_PREFIX + secrets.token_hex(8))
                    tmp.mkdir(mode=0o700)
                    for a in _AREAS:
                        (tmp / a).mkdir(mode=0o700)
                    self._write_record(o, d.name)
                    os.rename(tmp, d)
            elif self._record_version(d.name) != self.ring.current:
                self._write_record(o, d.name)  # a directory from before records, or an old record
        self._known[o] = d
        return d

    # -- owner records --------------------------------------------------------------------------
    def _record_key(self, ver: int) -> AESGCM:
        return AESGCM(self.ring.derive(ver, "file-owners"))

    def _write_record(self, o: Owner, dir_name: str) -> None:
        ver = self.ring.current
        head = _OWNER_MAGIC + bytes([ver])
        nonce = os.urandom(NONCE_BYTES)
        blob = head + nonce + self._record_key(ver).encrypt(
            nonce, encode_parts(o.host, o.app, o.user), head + dir_name.encode())
        rec = self.root / OWNERS_DIR
        rec.mkdir(mode=0o700, exist_ok=True)
        self._atomic_write(rec, dir_name, blob)
        self._fsync_dir(rec)  # durable before the directory it names is renamed

    def _record_version(self, dir_name: str) -> int | None:
        try:
            head = (self.root / OWNERS_DIR / dir_name).read_bytes()[:HEADER_BYTES]
        except OSError:
            return None
        return head[3] if len(head) == HEADER_BYTES and head[:3] == _OWNER_MAGIC else None

    def _read_record(self, dir_name: str) -> Owner | None:
        try:
            blob = (self.root / OWNERS_DIR / dir_name).read_bytes()
        except OSError:
            return None
        if len(blob) < HEADER_BYTES + NONCE_BYTES or blob[:3] != _OWNER_MAGIC or blob[3] not in self.ring:
            return None
        head = blob[:HEADER_BYTES]
        try:
            plain = self._record_key(blob[3]).decrypt(blob[HEADER_BYTES:HEADER_BYTES + NONCE_BYTES],
                                                      blob[HEADER_BYTES + NONCE_BYTES:], head + dir_name.encode())
        except (InvalidTag, ValueError):
            return None
        parts, i = [], 0
        while i < len(plain):
            n = int.from_bytes(plain[i:i + 4], "big")
            parts.append(plain[i + 4:i + 4 + n].decode("utf-8", "surrogatepass"))
            i += 4 + n
        return Owner(*parts) if len(parts) == 3 else None

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, _DIR_FLAGS)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _atomic_write(parent: Path, name: str, blob: bytes) -> None:
        tmp = parent / (TMP_PREFIX + secrets.token_hex(8))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, parent / name)

    @contextlib.contextmanager
    def _owner_lock(self, o: Owner, exclusive: bool = False) -> Iterator[None]:
        """Writers hold the owner's directory shared; a rotation re-seal holds it exclusive (the
        lock is on the directory itself, so it holds across a rename of the directory)."""
        try:
            fd = os.open(self.owner_dir(o), _DIR_FLAGS)
        except FileNotFoundError:  # renamed by a rotation meanwhile: look again
            self._known.pop(o, None)
            fd = os.open(self.owner_dir(o), _DIR_FLAGS)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _area_fd(self, o: Owner, area: str) -> int:
        if area == "pkg":
            if self.package_dir is None:
                raise FileNotFoundError
            return os.open(self.package_dir, _DIR_FLAGS)
        try:
            return os.open(self.owner_dir(o) / area, _DIR_FLAGS)
        except FileNotFoundError:  # renamed by a rotation between the lookup and the open
            self._known.pop(o, None)
            return os.open(self.owner_dir(o) / area, _DIR_FLAGS)

    @staticmethod
    def _is_link(name: str, dir_fd: int) -> bool:
        try:
            return st.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            return False

    def _walk(self, dir_fd: int, parts: tuple[str, ...], p: WxPath, op: str, *,
              create: bool = False) -> int:
        """Return a new fd for the directory `parts` under `dir_fd`, never following links."""
        fd = os.dup(dir_fd)
        try:
            for comp in parts:
                try:
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise _fmt(ENOENT, op, p.raw) from None
                    os.mkdir(comp, 0o700, dir_fd=fd)
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    if self._is_link(comp, fd):
                        raise _fmt(EACCES, op, p.raw) from None
                    raise _fmt(ENOENT, op, p.raw) from None
                os.close(fd)
                fd = nfd
            return fd
        except BaseException:
            os.close(fd)
            raise

    @contextlib.contextmanager
    def _parent(self, o: Owner, p: WxPath, op: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """Yield (fd of the parent directory, leaf name); the area root itself has no leaf."""
        if not p.parts:
            raise _fmt(EACCES, op, p.raw)
        try:
            area = self._area_fd(o, p.area)
        except FileNotFoundError:
            raise _fmt(ENOENT, op, p.raw) from None
        try:
            pfd = self._walk(area, p.parts[:-1], p, op, create=create)
        finally:
            os.close(area)
        try:
            yield pfd, p.parts[-1]
        finally:
            os.close(pfd)

    @contextlib.contextmanager
    def _dir(self, o: Owner, p: WxPath, op: str) -> Iterator[int]:
        try:
            area = self._area_fd(o, p.area)
        except FileNotFoundError:
            raise _fmt(ENOENT, op, p.raw) from None
        try:
            fd = self._walk(area, p.parts, p, op)
        finally:
            os.close(area)
        try:
            yield fd
        finally:
            os.close(fd)

    def _lstat(self, pfd: int, leaf: str) -> os.stat_result | None:
        try:
            return os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def _open_file(self, pfd: int, leaf: str, flags: int, p: WxPath, op: str) -> int:
        s = self._lstat(pfd, leaf)
        if s is None:
            raise _fmt(ENOENT, op, p.raw)
        if st.S_ISDIR(s.st_mode):
            raise _fmt(EISDIR, op, p.raw)
        if not st.S_ISREG(s.st_mode):
            raise _fmt(EACCES, op, p.raw)
        try:
            fd = os.open(leaf, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=pfd)
        except OSError:
            raise _fmt(EACCES, op, p.raw) from None
        if not st.S_ISREG(os.fstat(fd).st_mode):  # swapped between lstat and open
            os.close(fd)
            raise _fmt(EACCES, op, p.raw)
        return fd

    # -- accounting -------------------------------------------------------------------------
    def _tree_bytes(self, fd: int) -> int:
        total = 0
        for e in os.scandir(fd):
            s = e.stat(follow_symlinks=False)
            if st.S_ISREG(s.st_mode):
                total += s.st_size
            elif st.S_ISDIR(s.st_mode):
                sub = os.open(e.name, _DIR_FLAGS, dir_fd=fd)
                try:
                    total += self._tree_bytes(sub)
                finally:
                    os.close(sub)
        return total

    def usage(self, o: Owner, areas: tuple[str, ...] = ("usr", "store")) -> int:
        total = 0
        for a in areas:
            fd = self._area_fd(o, a)
            try:
                total += self._tree_bytes(fd)
            finally:
                os.close(fd)
        return total

    def _check_quota(self, o: Owner, area: str, add: int, p: WxPath, op: str) -> None:
        if area == "tmp":
            if self.usage(o, ("tmp",)) + add > self.temp_quota:
                raise FsError(EQUOTA, EQUOTA)
        elif self.usage(o) + add > self.quota:
            raise FsError(EQUOTA, EQUOTA)

    # -- sealing ----------------------------------------------------------------------------
    def _cipher(self, o: Owner, ver: int) -> AESGCM:
        self._fresh()
        c = self._aead.get((ver, o))
        if c is None:
            c = self._aead[(ver, o)] = AESGCM(self.ring.derive(ver, "files", o.host, o.app, o.user))
        return c

    def _seal(self, o: Owner, data: bytes) -> bytes:
        ver = self.ring.current
        head = MAGIC + bytes([ver])
        nonce = os.urandom(NONCE_BYTES)
        return head + nonce + self._cipher(o, ver).encrypt(
            nonce, data, head + encode_parts("file", o.host, o.app, o.user))

    def _unseal_versioned(self, o: Owner, blob: bytes) -> tuple[int, bytes]:
        """(key version, content); raises InvalidTag. A blob with the header is opened under its
        version; a blob without it (or whose header does not authenticate: a version-1 nonce may
        begin with the magic by chance) as version 1."""
        aad = encode_parts("file", o.host, o.app, o.user)
        if blob[:3] == MAGIC and len(blob) >= SEAL_OVERHEAD and blob[3] in self.ring:
            with contextlib.suppress(InvalidTag, ValueError):
                body = blob[HEADER_BYTES:]
                return blob[3], self._cipher(o, blob[3]).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:],
                                                                  blob[:HEADER_BYTES] + aad)
        if 1 not in self.ring or len(blob) < LEGACY_SEAL_OVERHEAD:
            raise InvalidTag
        return 1, self._cipher(o, 1).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)

    def _unseal(self, o: Owner, blob: bytes, p: WxPath) -> bytes:
        try:
            return self._unseal_versioned(o, blob)[1]
        except (InvalidTag, ValueError, KeyVersionError):
            raise _fmt(ECORRUPT, "open", p.raw) from None

    def _overhead(self, dir_fd: int, name: str) -> int:
        """Sealing overhead of one file, from its first bytes (no decryption)."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            return SEAL_OVERHEAD
        try:
            head = os.pread(fd, HEADER_BYTES, 0)
        except OSError:
            return SEAL_OVERHEAD
        finally:
            os.close(fd)
        return SEAL_OVERHEAD if head[:3] == MAGIC and len(head) == HEADER_BYTES and head[3] else LEGACY_SEAL_OVERHEAD

    @staticmethod
    def _read_fd(fd: int) -> bytes:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)

    # -- operations -------------------------------------------------------------------------
    def read_file(self, o: Owner, raw: Any, position: int = 0, length: int | None = None) -> bytes:
        p = parse_path(raw)
        with self._parent(o, p, "open") as (pfd, leaf):
            fd = self._open_file(pfd, leaf, os.O_RDONLY, p, "open")
            try:
                blob = self._read_fd(fd)
            finally:
                os.close(fd)
        data = blob if p.area == "pkg" else self._unseal(o, blob, p)
        if position < 0 or position > len(data) or (length is not None and length < 0):
            raise FsError("invalid position", f"the value of \"position\" is out of range, open {raw}")
        return data[position:] if length is None else data[position:position + length]

    def write_file(self, o: Owner, raw: Any, data: bytes, *, append: bool = False) -> None:
        p = parse_path(raw)
        if not p.writable:
            raise _fmt(EACCES, "open", p.raw)
        with self._parent(o, p, "open") as (pfd, leaf):
            self._write_at(o, p, pfd, leaf, data, append=append)

    def _write_at(self, o: Owner, p: WxPath, pfd: int, leaf: str, data: bytes, *, append: bool) -> None:
        with self._owner_lock(o), self._write_lock:
            self._write_locked(o, p, pfd, leaf, data, append=append)

    def _write_locked(self, o: Owner, p: WxPath, pfd: int, leaf: str, data: bytes, *, append: bool) -> None:
        s = self._lstat(pfd, leaf)
        if s is not None and st.S_ISDIR(s.st_mode):
            raise _fmt(EISDIR, "open", p.raw)
        if s is not None and not st.S_ISREG(s.st_mode):
            raise _fmt(EACCES, "open", p.raw)
        if append:
            if s is None:
                raise _fmt(ENOENT, "open", p.raw)
            fd = self._open_file(pfd, leaf, os.O_RDONLY, p, "open")
            try:
                old = self._unseal(o, self._read_fd(fd), p)
            finally:
                os.close(fd)
            data = old + data
        data = self._seal(o, data)
        self._check_quota(o, p.area, len(data) - (s.st_size if s else 0), p, "open")
        tmp = TMP_PREFIX + secrets.token_hex(8)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=pfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp, dir_fd=pfd)
            raise
        os.close(fd)
        os.rename(tmp, leaf, src_dir_fd=pfd, dst_dir_fd=pfd)

    def mkdir(self, o: Owner, raw: Any, recursive: bool = False) -> None:
        p = parse_path(raw, "mkdir")
        if not p.writable:
            raise _fmt(EACCES, "mkdir", p.raw)
        with self._parent(o, p, "mkdir", create=recursive) as (pfd, leaf):
            s = self._lstat(pfd, leaf)
            if s is not None:
                if recursive and st.S_ISDIR(s.st_mode):
                    return
                raise _fmt(EEXIST, "mkdir", p.raw)
            os.mkdir(leaf, 0o700, dir_fd=pfd)

    def _require_dir(self, pfd: int, leaf: str, api: str, raw: str) -> None:
        """`leaf` under `pfd` must exist and be a real directory (a symlink is refused)."""
        s = self._lstat(pfd, leaf)
        if s is None:
            raise _fmt(ENOENT, api, raw)
        if st.S_ISLNK(s.st_mode):
            raise _fmt(EACCES, api, raw)
        if not st.S_ISDIR(s.st_mode):
            raise _fmt(ENOTDIR, api, raw)

    def readdir(self, o: Owner, raw: Any) -> list[str]:
        p = parse_path(raw, "readdir")
        if p.area in ("store", "tmp"):
            raise _fmt(ENOTDIR, "readdir", p.raw)
        if p.parts:
            with self._parent(o, p, "readdir") as (pfd, leaf):
                self._require_dir(pfd, leaf, "readdir", p.raw)
        with self._dir(o, p, "readdir") as fd:
            return sorted(n for n in os.listdir(fd) if not n.startswith(TMP_PREFIX))

    def stat(self, o: Owner, raw: Any, recursive: bool = False) -> FileStat | dict[str, FileStat]:
        p = parse_path(raw, "stat")
        overhead = SEAL_OVERHEAD
        if not p.parts:
            fd = self._area_fd(o, p.area)
            try:
                s = os.fstat(fd)
            finally:
                os.close(fd)
        else:
            with self._parent(o, p, "stat") as (pfd, leaf):
                s1 = self._lstat(pfd, leaf)
                if s1 is None:
                    raise _fmt(ENOENT, "stat", p.raw)
                if not (st.S_ISREG(s1.st_mode) or st.S_ISDIR(s1.st_mode)):
                    raise _fmt(EACCES, "stat", p.raw)
                s = s1
                if p.area != "pkg" and st.S_ISREG(s.st_mode):
                    overhead = self._overhead(pfd, leaf)
        if not recursive or not st.S_ISDIR(s.st_mode):
            return _stat(s, p.area != "pkg", overhead)
        out: dict[str, FileStat] = {"/": _stat(s, p.area != "pkg")}
        with self._dir(o, p, "stat") as fd:
            self._collect(fd, "", out, p.area != "pkg")
        return out

    def _collect(self, fd: int, prefix: str, out: dict[str, FileStat], sealed: bool) -> None:
        for e in os.scandir(fd):
            if e.name.startswith(TMP_PREFIX):
                continue
            s = e.stat(follow_symlinks=False)
            if not (st.S_ISREG(s.st_mode) or st.S_ISDIR(s.st_mode)):
                continue
            out[f"{prefix}/{e.name}"] = _stat(s, sealed, self._overhead(fd, e.name) if sealed and
                                              st.S_ISREG(s.st_mode) else SEAL_OVERHEAD)
            if st.S_ISDIR(s.st_mode):
                sub = os.open(e.name, _DIR_FLAGS, dir_fd=fd)
                try:
                    self._collect(sub, f"{prefix}/{e.name}", out, sealed)
                finally:
                    os.close(sub)

    def access(self, o: Owner, raw: Any) -> None:
        self.stat(o, raw)

    def unlink(self, o: Owner, raw: Any) -> None:
        p = parse_path(raw, "unlink")
        if not p.writable:
            raise _fmt(EACCES, "unlink", p.raw)
        with self._owner_lock(o), self._parent(o, p, "unlink") as (pfd, leaf):
            s = self._lstat(pfd, leaf)
            if s is None:
                raise _fmt(ENOENT, "unlink", p.raw)
            if st.S_ISDIR(s.st_mode):
                raise _fmt(EPERM, "unlink", p.raw)
            os.unlink(leaf, dir_fd=pfd)

    def rmdir(self, o: Owner, raw: Any, recursive: bool = False) -> None:
        p = parse_path(raw, "rmdir")
        if not p.writable or not p.parts:
            raise _fmt(EACCES, "rmdir", p.raw)
        with self._owner_lock(o), self._parent(o, p, "rmdir") as (pfd, leaf):
            self._require_dir(pfd, leaf, "rmdir", p.raw)
            if recursive:
                sub = os.open(leaf, _DIR_FLAGS, dir_fd=pfd)
                try:
                    self._empty(sub)
                finally:
                    os.close(sub)
            try:
                os.rmdir(leaf, dir_fd=pfd)
            except OSError:
                raise _fmt(ENOTEMPTY, "rmdir", p.raw) from None

    def _empty(self, fd: int) -> None:
        for e in list(os.scandir(fd)):
            if e.is_dir(follow_symlinks=False):
                sub = os.open(e.name, _DIR_FLAGS, dir_fd=fd)
                try:
                    self._empty(sub)
                finally:
                    os.close(sub)
                os.rmdir(e.name, dir_fd=fd)
            else:
                os.unlink(e.name, dir_fd=fd)

    def rename(self, o: Owner, old: Any, new: Any) -> None:
        try:
            po, pn = parse_path(old, "rename"), parse_path(new, "rename")
        except FsError as e:
            raise _fmt(e.reason, "rename", str(old), str(new)) from None
        if po.area == "pkg" or not pn.writable or not po.parts or not pn.parts:
            raise _fmt(EACCES, "rename", str(old), str(new))
        try:
            self._rename(o, po, pn)
        except FsError as e:
            if e.reason == EQUOTA or " -> " in e.message:
                raise
            raise _fmt(e.reason, "rename", po.raw, pn.raw) from None

    def _rename(self, o: Owner, po: WxPath, pn: WxPath) -> None:
        with self._owner_lock(o), self._parent(o, po, "rename") as (ofd, oleaf), \
                self._parent(o, pn, "rename") as (nfd, nleaf):
            s = self._lstat(ofd, oleaf)
            if s is None:
                raise _fmt(ENOENT, "rename", po.raw, pn.raw)
            if not (st.S_ISREG(s.st_mode) or st.S_ISDIR(s.st_mode)):
                raise _fmt(EACCES, "rename", po.raw, pn.raw)
            d = self._lstat(nfd, nleaf)
            if d is not None and (st.S_ISDIR(d.st_mode) or not st.S_ISREG(d.st_mode)) and d.st_ino != s.st_ino:
                raise _fmt(EACCES, "rename", po.raw, pn.raw)
            if po.area != "usr":
                self._check_quota(o, "usr", s.st_size - (d.st_size if d else 0), pn, "rename")
            os.rename(oleaf, nleaf, src_dir_fd=ofd, dst_dir_fd=nfd)

    def copy_file(self, o: Owner, src: Any, dest: Any) -> None:
        try:
            ps, pd = parse_path(src, "copyFile"), parse_path(dest, "copyFile")
        except FsError as e:
            raise _fmt(e.reason, "copyFile", str(src), str(dest)) from None
        if not pd.writable:
            raise _fmt(EACCES, "copyFile", str(src), str(dest))
        try:
            data = self.read_file(o, src)
        except FsError as e:
            raise _fmt(e.reason, "copyFile", ps.raw, pd.raw) from None
        try:
            self.write_file(o, dest, data)
        except FsError as e:
            if e.reason == EQUOTA:
                raise
            raise _fmt(e.reason, "copyFile", ps.raw, pd.raw) from None

    # -- temp and saved files ---------------------------------------------------------------
    def clear_temp(self, o: Owner) -> None:
        """Wipe the owner's temporary files (call at instance exit)."""
        fd = self._area_fd(o, "tmp")
        try:
            with self._owner_lock(o), self._write_lock:
                self._empty(fd)
        finally:
            os.close(fd)

    def forget(self, o: Owner) -> None:
        """The user deleted the mini-program: remove every file of this owner."""
        with self._owner_lock(o), self._write_lock:
            for area in _AREAS:
                fd = self._area_fd(o, area)
                try:
                    self._empty(fd)
                finally:
                    os.close(fd)

    def create_temp(self, o: Owner, data: bytes, suffix: str = "") -> str:
        suffix = suffix if suffix.isascii() and suffix[1:].isalnum() and suffix.startswith(".") else ""
        name = f"tmp_{secrets.token_hex(12)}{suffix[:16]}"
        p = WxPath(SCHEME + name, "tmp", (name,))
        self._check_quota(o, "tmp", len(data), p, "open")
        with self._parent(o, p, "open") as (pfd, leaf):
            self._write_at(o, p, pfd, leaf, data, append=False)
        return p.raw

    def save_file(self, o: Owner, temp: Any, dest: Any = None) -> str:
        pt = parse_path(temp)
        if pt.area != "tmp":
            raise FsError(ENOENT, "tempFilePath file not exist")
        data = self.read_file(o, temp)
        if dest is not None:
            self.write_file(o, dest, data)
            target = str(dest)
        else:
            ext = os.path.splitext(pt.parts[0])[1]
            name = f"store_{secrets.token_hex(12)}{ext if ext[1:].isalnum() else ''}"
            ps = WxPath(SCHEME + name, "store", (name,))
            self._check_quota(o, "store", len(data), ps, "open")
            with self._parent(o, ps, "open") as (pfd, leaf):
                self._write_at(o, ps, pfd, leaf, data, append=False)
            target = ps.raw
        with self._owner_lock(o), self._parent(o, pt, "open") as (pfd, leaf):
            os.unlink(leaf, dir_fd=pfd)
        return target

    def saved_files(self, o: Owner) -> list[dict[str, Any]]:
        fd = self._area_fd(o, "store")
        try:
            out = []
            for e in sorted(os.scandir(fd), key=lambda e: e.name):
                s = e.stat(follow_symlinks=False)
                if st.S_ISREG(s.st_mode) and e.name.startswith("store_"):
                    out.append({"filePath": SCHEME + e.name, "size": max(0, s.st_size - self._overhead(fd, e.name)),
                                "createTime": int(s.st_mtime)})
            return out
        finally:
            os.close(fd)

    def remove_saved(self, o: Owner, raw: Any) -> None:
        try:
            p = parse_path(raw)
        except FsError:
            raise FsError(ENOENT, "file not exist") from None
        if p.area != "store":
            raise FsError(ENOENT, "file not exist")
        with self._owner_lock(o), self._parent(o, p, "open") as (pfd, leaf):
            s = self._lstat(pfd, leaf)
            if s is None or not st.S_ISREG(s.st_mode):
                raise FsError(ENOENT, "file not exist")
            os.unlink(leaf, dir_fd=pfd)

    def file_info(self, o: Owner, raw: Any, algorithm: str = "md5") -> dict[str, Any]:
        try:
            data = self.read_file(o, raw)
        except FsError:
            raise FsError(ENOENT, "file not exist") from None
        h = hashlib.md5(data, usedforsecurity=False) if algorithm == "md5" else hashlib.sha1(
            data, usedforsecurity=False)
        return {"size": len(data), "digest": h.hexdigest()}

    def owners(self) -> list[Owner]:
        """Every owner with a file area, from the sealed owner records (for retention and overviews)."""
        return sorted(set(self._owner_index(()).values()), key=lambda o: (o.host, o.app, o.user))

    # -- key rotation -----------------------------------------------------------------------
    def _owner_index(self, owners: Iterable[Owner]) -> dict[str, Owner]:
        """Directory name -> owner, from the owner records and the owners the caller knows of."""
        idx: dict[str, Owner] = {}
        for o in owners:
            for v in self.ring.versions():
                idx[self._dir_name(o, v)] = o
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.root / OWNERS_DIR):
                o = None if name.startswith(TMP_PREFIX) else self._read_record(name)
                if o is not None and any(self._dir_name(o, v) == name for v in self.ring.versions()):
                    idx.setdefault(name, o)
        return idx

    def _owner_dirs(self) -> list[str]:
        return sorted(n for n in os.listdir(self.root) if _is_dir_name(n) and (self.root / n).is_dir())

    def _files(self, dir_fd: int) -> Iterator[tuple[int, str]]:
        """(parent fd, name) of every sealed file under `dir_fd`, never following links."""
        for e in sorted(os.scandir(dir_fd), key=lambda e: e.name):
            if e.name.startswith(TMP_PREFIX):
                continue
            s = e.stat(follow_symlinks=False)
            if st.S_ISREG(s.st_mode):
                yield dir_fd, e.name
            elif st.S_ISDIR(s.st_mode):
                try:
                    sub = os.open(e.name, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError:
                    continue
                try:
                    yield from self._files(sub)
                finally:
                    os.close(sub)

    @staticmethod
    def _header_version(dir_fd: int, name: str) -> int:
        """The key version in a file's header (1: no header, from before versions); no decryption."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            return -1
        try:
            head = os.pread(fd, HEADER_BYTES, 0)
        finally:
            os.close(fd)
        return head[3] if len(head) == HEADER_BYTES and head[:3] == MAGIC else 1

    def _reseal(self, o: Owner, dir_fd: int, name: str, key: str) -> bool:
        """Re-seal one file under the current version, under the owner's exclusive lock: temp in
        the same directory, times kept, fsync, rename over it. False if there was nothing to do."""
        with self._owner_lock(o, exclusive=True):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError:
                return False  # removed meanwhile
            try:
                s = os.fstat(fd)
                if not st.S_ISREG(s.st_mode):
                    return False
                blob = self._read_fd(fd)
            finally:
                os.close(fd)
            try:
                ver, data = self._unseal_versioned(o, blob)
            except (InvalidTag, ValueError, KeyVersionError):
                self._unrotatable.add(key)  # unreadable already (tampered): left as it is
                return False
            if ver == self.ring.current and blob[:3] == MAGIC:
                return False
            sealed = self._seal(o, data)
            tmp = TMP_PREFIX + secrets.token_hex(8)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
            try:
                view = memoryview(sealed)
                while view:
                    view = view[os.write(fd, view):]
                os.utime(fd, ns=(s.st_atime_ns, s.st_mtime_ns))  # retention and stat see the old times
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                os.unlink(tmp, dir_fd=dir_fd)
                raise
            os.close(fd)
            now = self._lstat(dir_fd, name)
            if now is None or now.st_ino != s.st_ino:  # removed by a path that takes no lock (retention)
                os.unlink(tmp, dir_fd=dir_fd)
                return False
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
            return True

    def _rotation(self, owners: list[Owner], verify: bool = False) -> Iterator[int]:
        """One pass over every owner directory; yields 1 per directory renamed, record rewritten
        or file re-sealed. Directories of owners nobody knows (no record, not in `owners`) are
        skipped: `pending` still counts them. Files whose header names the current version are
        skipped too, unless `verify`: then they are opened, and a file from before versions whose
        random nonce happened to begin with the header (2^-32) is re-sealed as well."""
        idx = self._owner_index(owners)
        for name in self._owner_dirs():
            o = idx.get(name)
            if o is None:
                continue
            cur = self.ring.current
            if name != self._dir_name(o, cur) or self._record_version(name) != cur:
                self._known.pop(o, None)
                self.owner_dir(o)  # renames the directory, rewrites the record
                yield 1
            d = self.root / self._dir_name(o, cur)
            try:
                dfd = os.open(d, _DIR_FLAGS)
            except FileNotFoundError:
                continue
            try:
                for area in _AREAS:
                    try:
                        afd = os.open(area, _DIR_FLAGS, dir_fd=dfd)
                    except OSError:
                        continue
                    try:
                        for pfd, fname in self._files(afd):
                            key = f"{d.name}/{area}/{os.fstat(pfd).st_ino}/{fname}"
                            if key in self._unrotatable or (
                                    not verify and self._header_version(pfd, fname) == cur):
                                continue
                            if self._reseal(o, pfd, fname, key):
                                yield 1
                    finally:
                        os.close(afd)
            finally:
                os.close(dfd)
        with self._flock(self.root, fcntl.LOCK_EX), contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.root / OWNERS_DIR):  # records of directories that are gone
                if _is_dir_name(name) and not (self.root / name).is_dir():
                    os.unlink(self.root / OWNERS_DIR / name)

    def rotate(self, batch: int = 100, owners: Iterable[Owner] = (), *, verify: bool = False) -> int:
        """Bring up to `batch` items to the current key version: owner directories renamed,
        owner records and files re-sealed. Resumable: everything it did is on disk, a crash leaves
        each file old or new (both read), and the next call carries on. Returns how many items it
        did (0: nothing left that it can do). `owners` names owners whose directory may have no
        record (from before records existed); the host passes the owners its storage knows.
        `verify` opens every file, also those whose header says current, in one whole pass (run
        before old versions are retired)."""
        owners = list(owners)
        done, fresh = 0, False
        if verify:  # one whole pass of its own
            if self._rot_iter is not None:
                self._rot_iter.close()
            self._rot_iter = None
            return sum(self._rotation(owners, verify=True))
        while done < batch:
            if self._rot_iter is None:
                self._rot_iter, fresh = self._rotation(owners), True
            try:
                done += next(self._rot_iter)
            except StopIteration:
                self._rot_iter = None
                if fresh:
                    break
        if done < batch and self._rot_iter is not None:
            self._rot_iter.close()
            self._rot_iter = None
        return done

    def pending(self, owners: Iterable[Owner] = ()) -> int:
        """Items not yet on the current key version: directories of unknown owners, directories
        under an older name or with an older record, files sealed under an older version
        (including files `rotate` found tampered with: they are unreadable, and stay counted)."""
        idx = self._owner_index(owners)
        cur = self.ring.current
        n = 0
        for name in self._owner_dirs():
            o = idx.get(name)
            if o is None or name != self._dir_name(o, cur) or self._record_version(name) != cur:
                n += 1
            try:
                dfd = os.open(self.root / name, _DIR_FLAGS)
            except FileNotFoundError:
                continue
            try:
                for pfd, fname in self._files(dfd):
                    if self._header_version(pfd, fname) != cur:
                        n += 1
            finally:
                os.close(dfd)
        return n
