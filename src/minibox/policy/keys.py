"""Key derivation: one AES-256 key per (purpose, host, app, user) from the host master key, and
the key ring of versioned master keys that lets the keys at rest rotate (`KeyRing`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: The master key must carry at least this many bytes of secret.
MIN_MASTER_KEY_BYTES = 32


class KeyError_(ValueError):
    """The master key is unusable (too short or not bytes)."""


def encode_parts(*parts: str) -> bytes:
    """Length-prefixed UTF-8 encoding: no two different tuples give the same bytes."""
    out = bytearray()
    for p in parts:
        b = p.encode("utf-8", "surrogatepass")
        out += len(b).to_bytes(4, "big") + b
    return bytes(out)


def derive_key(master_key: bytes, purpose: str, *parts: str) -> bytes:
    if not isinstance(master_key, bytes | bytearray) or len(master_key) < MIN_MASTER_KEY_BYTES:
        raise KeyError_(f"master key must be at least {MIN_MASTER_KEY_BYTES} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"minibox-kdf-v1",
                info=encode_parts(purpose, *parts))
    return hkdf.derive(bytes(master_key))


def name_digest(key: bytes, *parts: str) -> str:
    """A keyed, non-reversible name (used for directory and lookup ids)."""
    return hmac.new(key, encode_parts(*parts), hashlib.sha256).hexdigest()


# -- versioned master keys (rotation of the keys at rest) -----------------------------------------
#: Key versions fit the one-byte version field of sealed files (`minibox.policy.files`).
MAX_KEY_VERSION = 255


class KeyVersionError(KeyError_):
    """A key version the ring does not hold (unknown, or retired)."""


class KeyRing:
    """Versioned master keys for the data at rest: `{version: key bytes}` and a current version.

    Writes seal under the current version; reads use the version recorded with the data; rotation
    (`add`) makes a new version current and the services re-seal in the background; `retire`
    forgets old versions once nothing is sealed under them. Thread-safe; one ring is shared by
    every service of a host, so a rotation is seen by all of them at once. `generation` changes on
    every change (services key their caches by it). `_persist` is called with the new state
    *before* it is published, so no data is ever sealed under a version that was not stored;
    subclasses (a keyring file, an HSM/KMS adapter) override it.
    """

    def __init__(self, keys: dict[int, bytes], current: int | None = None, *,
                 retired: tuple[int, ...] | list[int] = ()) -> None:
        if not keys:
            raise KeyError_("a key ring holds at least one key")
        for v, k in keys.items():
            self._check(v, k)
        self._keys = {int(v): bytes(k) for v, k in keys.items()}
        self._current = max(self._keys) if current is None else int(current)
        if self._current != max(self._keys):
            raise KeyVersionError(f"current key version {self._current} must be the newest in the ring")
        self._retired = tuple(sorted({int(v) for v in retired} - set(self._keys)))
        self._lock = threading.RLock()
        self.generation = 0

    @classmethod
    def single(cls, master_key: bytes) -> KeyRing:
        """The classic one-key host: `master_key` is version 1."""
        return cls({1: master_key}, 1)

    @staticmethod
    def _check(version: int, key: bytes) -> None:
        if not isinstance(version, int) or not 1 <= version <= MAX_KEY_VERSION:
            raise KeyVersionError(f"key versions are 1..{MAX_KEY_VERSION}, got {version!r}")
        if not isinstance(key, bytes | bytearray) or len(key) < MIN_MASTER_KEY_BYTES:
            raise KeyError_(f"master key must be at least {MIN_MASTER_KEY_BYTES} bytes")

    @property
    def current(self) -> int:
        return self._current

    @property
    def retired(self) -> tuple[int, ...]:
        return self._retired

    def versions(self) -> tuple[int, ...]:
        """Held versions, current first, then older ones newest first."""
        with self._lock:
            return (self._current, *sorted((v for v in self._keys if v != self._current), reverse=True))

    def __contains__(self, version: object) -> bool:
        return version in self._keys

    def key(self, version: int) -> bytes:
        try:
            return self._keys[version]
        except KeyError:
            raise KeyVersionError(f"key version {version} is not held (unknown or retired)") from None

    def derive(self, version: int, purpose: str, *parts: str) -> bytes:
        return derive_key(self.key(version), purpose, *parts)

    def _persist(self, keys: dict[int, bytes], current: int, retired: tuple[int, ...]) -> None:
        """Store the new state durably before it is used (in memory: nothing to do)."""

    def add(self, key: bytes | None = None) -> int:
        """Add a new version (random 32 bytes unless an HSM/KMS hands `key`), make it current."""
        with self._lock:
            version = max((*self._keys, *self._retired)) + 1
            key = os.urandom(32) if key is None else bytes(key)
            self._check(version, key)
            keys = {**self._keys, version: key}
            self._persist(keys, version, self._retired)
            self._keys, self._current = keys, version
            self.generation += 1
            return version

    def retire(self) -> list[int]:
        """Forget every version but the current one; returns the versions retired. The caller
        checks first that nothing is sealed under them (`Host.retire_old_keys` does)."""
        with self._lock:
            old = sorted(v for v in self._keys if v != self._current)
            if not old:
                return []
            keys = {self._current: self._keys[self._current]}
            retired = tuple(sorted({*self._retired, *old}))
            self._persist(keys, self._current, retired)
            self._keys, self._retired = keys, retired
            self.generation += 1
            return old


class KeyRingFile(KeyRing):
    """A key ring kept in a JSON file (mode 0600, replaced atomically: temp, fsync, rename, fsync
    of the directory). Version 1 is the host's master key (`master.key` or `HostConfig.master_key`)
    and is never written to the file; later versions are. Retired versions are listed by number
    only: their bytes are gone from the file, and version 1 is no longer taken from the master key."""

    FORMAT = 1

    def __init__(self, path: str | os.PathLike[str], master_key: bytes) -> None:
        self.path = Path(path)
        keys: dict[int, bytes] = {1: bytes(master_key)}
        current, retired = 1, ()
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text())
                if doc.get("format") != self.FORMAT:
                    raise ValueError(f"unknown format {doc.get('format')!r}")
                retired = tuple(int(v) for v in doc.get("retired", ()))
                keys.update({int(v): base64.b64decode(k, validate=True) for v, k in doc["keys"].items()})
                current = int(doc["current"])
            except (ValueError, KeyError, TypeError) as e:
                raise KeyError_(f"{self.path}: unreadable key ring ({e})") from None
            for v in retired:
                keys.pop(v, None)
        super().__init__(keys, current, retired=retired)

    def _persist(self, keys: dict[int, bytes], current: int, retired: tuple[int, ...]) -> None:
        doc = {"format": self.FORMAT, "current": current, "retired": list(retired),
               "keys": {str(v): base64.b64encode(k).decode() for v, k in sorted(keys.items()) if v != 1}}
        write_secret_file(self.path, json.dumps(doc, indent=1).encode())


def write_secret_file(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, mode 0600: a crash leaves the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def as_ring(master_key: bytes | KeyRing) -> KeyRing:
    """Services accept a key ring or, as before, one master key (version 1)."""
    return master_key if isinstance(master_key, KeyRing) else KeyRing.single(master_key)
