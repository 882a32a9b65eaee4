"""Trusted state on the device: the platform key set and the last build trusted per app.

Kept in its own directory, never inside the package cache (TUF: state the update content can
write is no state at all). Two files, each replaced atomically (temp file, fsync, rename, fsync
of the directory), under an advisory lock:

- `keyset.json`: the current signed key set. Version 1 is provisioned with the host app (the
  root of trust); version N+1 is accepted only if signed by a key of version N *and* by a key of
  N+1, and it replaces N entirely, so keys left out are revoked. A key set may set
  `reset_builds` to forget the trusted builds (recovery from a fast-forward attack by a
  compromised key).
- `state.json`: per app, the highest build (with its version and manifest hash) this device has
  accepted. Verification refuses a lower build, and the same build with a different manifest.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from minibox.package import canonical
from minibox.package.errors import ExpiredError, FormatError, PackageError, SignatureError, TrustStoreError
from minibox.package.keys import KEYSET_CONTEXT, SigningKey, load_ed25519_public, public_key_id, public_raw
from minibox.package.manifest import KEY_ID_RE, format_time, parse_time

KEYSET_FILE = "keyset.json"
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
#: Most keys one key set may hold.
MAX_KEYS = 16


@dataclass(frozen=True)
class KeySet:
    version: int
    keys: dict[str, Ed25519PublicKey]
    expires_at: datetime | None
    reset_builds: bool
    signed: bytes          # canonical bytes of the `keyset` object
    signatures: dict[str, bytes]
    raw: bytes             # the whole document as stored

    def signed_by(self, keys: dict[str, Ed25519PublicKey]) -> list[str]:
        """The ids of `keys` that produced a valid signature over this key set."""
        from cryptography.exceptions import InvalidSignature

        good = []
        for key_id, sig in self.signatures.items():
            public = keys.get(key_id)
            if public is None:
                continue
            try:
                public.verify(sig, KEYSET_CONTEXT + self.signed)
            except InvalidSignature:
                continue
            good.append(key_id)
        return good


def make_keyset(keys: list[SigningKey | Ed25519PublicKey], *, version: int = 1, signers: list[SigningKey],
                expires_at: datetime | None = None, reset_builds: bool = False) -> bytes:
    """Build a signed key set document. `signers` are the old keys (rotation) plus new ones."""
    publics = [k.public if isinstance(k, SigningKey) else k for k in keys]
    body: dict[str, Any] = {
        "type": "minibox-keyset",
        "version": version,
        "keys": {public_key_id(p): base64.b64encode(public_raw(p)).decode("ascii") for p in publics},
        "expires_at": None if expires_at is None else format_time(expires_at),
        "reset_builds": reset_builds,
    }
    signed = canonical.dumps(body)
    sigs = [{"key_id": s.key_id, "sig": base64.b64encode(s.sign(KEYSET_CONTEXT, signed)).decode("ascii")}
            for s in signers]
    return canonical.dumps({"keyset": body, "signatures": sigs})


def parse_keyset(data: bytes) -> KeySet:
    doc = canonical.loads(data, what="keyset")
    if not isinstance(doc, dict) or set(doc) != {"keyset", "signatures"}:
        raise FormatError("keyset-schema", "keyset", "expected {keyset, signatures}")
    body = doc["keyset"]
    fields = {"type", "version", "keys", "expires_at", "reset_builds"}
    if not isinstance(body, dict) or set(body) != fields or body["type"] != "minibox-keyset":
        raise FormatError("keyset-schema", "keyset", "bad key set body")
    version = body["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FormatError("keyset-schema", "keyset.version", f"bad version {version!r}")
    if not isinstance(body["keys"], dict) or not 1 <= len(body["keys"]) <= MAX_KEYS:
        raise FormatError("keyset-schema", "keyset.keys", "expected 1..16 keys")
    keys: dict[str, Ed25519PublicKey] = {}
    for key_id, b64 in body["keys"].items():
        try:
            public = load_ed25519_public(base64.b64decode(str(b64), validate=True))
        except (ValueError, FormatError):
            raise FormatError("keyset-schema", key_id, "bad public key") from None
        if public_key_id(public) != key_id:
            raise FormatError("keyset-key-id", key_id, "key id does not match the key")
        keys[key_id] = public
    if not isinstance(body["reset_builds"], bool):
        raise FormatError("keyset-schema", "keyset.reset_builds", "expected a boolean")
    expires = None if body["expires_at"] is None else parse_time(body["expires_at"], "keyset.expires_at")
    sigs: dict[str, bytes] = {}
    if not isinstance(doc["signatures"], list):
        raise FormatError("keyset-schema", "signatures", "expected a list")
    for item in doc["signatures"]:
        if not isinstance(item, dict) or set(item) != {"key_id", "sig"} or not KEY_ID_RE.match(str(item["key_id"])):
            raise FormatError("keyset-schema", "signatures", "bad signature item")
        if item["key_id"] in sigs:
            raise FormatError("keyset-schema", item["key_id"], "duplicate signature")
        try:
            sigs[item["key_id"]] = base64.b64decode(str(item["sig"]), validate=True)
        except ValueError:
            raise FormatError("keyset-schema", item["key_id"], "bad signature encoding") from None
    return KeySet(version=version, keys=keys, expires_at=expires, reset_builds=body["reset_builds"],
                  signed=canonical.dumps(body), signatures=sigs, raw=data)


@dataclass(frozen=True)
class TrustedRelease:
    app_id: str
    build: int
    version: str
    manifest_sha256: str


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class TrustStore:
    """The device's trusted keys and per-app builds, persisted in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        path = self.directory / KEYSET_FILE
        if not path.is_file():
            raise TrustStoreError("no-trust-root", str(path), "trust store has no keyset.json")
        self._keyset = parse_keyset(path.read_bytes())
        if not self._keyset.signed_by(self._keyset.keys):
            raise TrustStoreError("trust-root-unsigned", str(path), "stored key set is not self-signed")

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def create(cls, directory: Path, keyset: bytes) -> TrustStore:
        """Provision a trust store with its root key set (must be signed by one of its own keys)."""
        directory = Path(directory)
        parsed = parse_keyset(keyset)
        if not parsed.signed_by(parsed.keys):
            raise SignatureError("keyset-unsigned", "keyset", "root key set is not signed by its own keys")
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / KEYSET_FILE, keyset)
        if not (directory / STATE_FILE).exists():
            atomic_write(directory / STATE_FILE, canonical.dumps({"apps": {}}))
        return cls(directory)

    @classmethod
    def for_keys(cls, directory: Path, keys: list[SigningKey]) -> TrustStore:
        """Provision from private keys in hand (tests, the bench, `minibox keys generate`)."""
        return cls.create(directory, make_keyset(list(keys), signers=list(keys)))

    # -- keys -------------------------------------------------------------------------------
    @property
    def keyset_version(self) -> int:
        return self._keyset.version

    def trusted_keys(self) -> dict[str, Ed25519PublicKey]:
        return dict(self._keyset.keys)

    def check_keyset_fresh(self, now: datetime) -> None:
        if self._keyset.expires_at is not None and now >= self._keyset.expires_at:
            raise ExpiredError("keyset-expired", f"keyset v{self._keyset.version}",
                               f"trusted key set expired at {format_time(self._keyset.expires_at)}")

    def apply_rotation(self, document: bytes, now: datetime) -> bool:
        """Accept key set N+1 signed by N and by itself; returns False if already applied."""
        new = parse_keyset(document)
        current = self._keyset
        where = f"keyset v{new.version}"
        if new.version <= current.version:
            if new.version == current.version and new.signed == current.signed:
                return False
            raise SignatureError("keyset-rollback", where, f"trusted key set is already v{current.version}")
        if new.version != current.version + 1:
            raise SignatureError("keyset-version", where, f"expected v{current.version + 1}")
        if not new.signed_by(current.keys):
            raise SignatureError("keyset-unsigned-by-trusted", where, "not signed by a currently trusted key")
        if not new.signed_by(new.keys):
            raise SignatureError("keyset-unsigned-by-new", where, "not signed by one of its own keys")
        if new.expires_at is not None and now >= new.expires_at:
            raise ExpiredError("keyset-expired", where, "rotated key set is already expired")
        with self._locked():
            atomic_write(self.directory / KEYSET_FILE, document)
            if new.reset_builds:
                atomic_write(self.directory / STATE_FILE, canonical.dumps({"apps": {}}))
        self._keyset = new
        return True

    # -- builds -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / LOCK_FILE, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _apps(self) -> dict[str, Any]:
        path = self.directory / STATE_FILE
        if not path.exists():
            return {}
        try:
            doc = canonical.loads(path.read_bytes(), what="trusted state")
        except PackageError as exc:
            raise TrustStoreError("trust-state-corrupt", str(path), str(exc)) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("apps"), dict):
            raise TrustStoreError("trust-state-corrupt", str(path), "bad trusted state")
        return doc["apps"]

    def last_trusted(self, app_id: str) -> TrustedRelease | None:
        item = self._apps().get(app_id)
        if item is None:
            return None
        return TrustedRelease(app_id=app_id, build=int(item["build"]), version=str(item["version"]),
                              manifest_sha256=str(item["manifest_sha256"]))

    def record(self, app_id: str, build: int, version: str, manifest_sha256: str) -> None:
        """Persist that this device accepted `build` of `app_id` (never lowers a build)."""
        with self._locked():
            apps = self._apps()
            old = apps.get(app_id)
            if old is not None and int(old["build"]) > build:
                return
            new = {"build": build, "version": version, "manifest_sha256": manifest_sha256}
            if old == new:
                return  # the same release again (every start from the cache): nothing to write
            apps[app_id] = new
            atomic_write(self.directory / STATE_FILE, canonical.dumps({"apps": apps}))


def manifest_digest(manifest_bytes: bytes) -> str:
    return hashlib.sha256(manifest_bytes).hexdigest()
