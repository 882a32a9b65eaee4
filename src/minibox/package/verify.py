"""Verify and unpack a package: one visible sequence, run on every load.

The order of the steps is the security argument (as in python-tuf's updater); each step refuses
with a typed :class:`~minibox.package.errors.PackageError` naming its rule and entry, and
nothing is written until every check that can be made in memory has passed.

1. **Framing** of the container (magic, section order, nothing trailing).
2. **Signature** over the exact manifest bytes by a key of the trusted key set. Key-set
   rotations carried in the package are applied first (each signed by the previous set and by
   itself); the trusted key set must not be expired.
3. **Version**: the build must not be lower than the last build this device trusted for the
   app, and the same build must be the same manifest (rollback, freeze-by-reuse).
4. **Expiry** of the manifest (and app id / runtime match with the request).
5. **Hashes and sizes of what is shipped**: every part's SHA-256 and size; parts present must be
   exactly the manifest's parts, in order. Entry policy over the whole manifest: names, types,
   duplicates, layout, part binding, counts, sizes, compression ratios.
6. **Decrypt** each part (AES-256-GCM, content key unwrapped with this host's X25519 key).
7. **Safe unpack**: every entry inflated in memory, bounded by its declared size, checked for
   size, SHA-256 and content rules (no bytecode); only then written into a fresh temporary
   directory with exclusive, no-follow opens and renamed into place.
8. **Persist** the trusted build for the app.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from minibox import __version__ as RUNTIME_VERSION
from minibox.package import canonical, container, crypto, rules
from minibox.package.errors import (
    DecryptionError,
    ExpiredError,
    FormatError,
    IntegrityError,
    MismatchError,
    PackageError,
    RollbackError,
    SignatureError,
    UnsafeEntryError,
)
from minibox.package.keys import MANIFEST_CONTEXT, HostKeyPair, load_host_private, verify_signature
from minibox.package.manifest import KEY_ID_RE, MAIN_PART, METHODS, Manifest, format_time, parse
from minibox.package.pack import subpackage_roots
from minibox.package.trust import TrustStore, manifest_digest, parse_keyset

#: Most key-set rotations one package may carry.
MAX_KEYSET_CHAIN = 8


@dataclass(frozen=True)
class VerifiedPackage:
    """A package that passed every check, unpacked at `path` (None: verified in memory only)."""

    manifest: Manifest
    path: Path | None
    manifest_sha256: str
    key_id: str
    parts: tuple[str, ...]
    #: The verified bytes of every entry of the parts unpacked, in memory (read-only): what the
    #: runtime loads, never read back from `path` (whoever can write the cache can change those).
    files: Mapping[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def app_id(self) -> str:
        return self.manifest.app_id

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def build(self) -> int:
        return self.manifest.build

    @property
    def encrypted(self) -> bool:
        return self.manifest.encrypted


class _Clock:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[step] = self.timings.get(step, 0.0) + now - self.last
            self.last = now


@dataclass(frozen=True)
class _Signature:
    key_id: str
    sig: bytes
    keysets: tuple[bytes, ...]


def _parse_signature(data: bytes) -> _Signature:
    doc = canonical.loads(data, what="signature")
    if not isinstance(doc, dict) or set(doc) != {"key_id", "sig", "keysets"}:
        raise SignatureError("signature-missing", "signature", "no signature block")
    key_id, sig, keysets = doc["key_id"], doc["sig"], doc["keysets"]
    if not isinstance(key_id, str) or not KEY_ID_RE.match(key_id):
        raise SignatureError("signature-malformed", "signature.key_id", "bad key id")
    try:
        raw = base64.b64decode(str(sig), validate=True)
    except ValueError:
        raise SignatureError("signature-malformed", "signature.sig", "bad base64") from None
    if len(raw) != 64:
        raise SignatureError("signature-malformed", "signature.sig", "an Ed25519 signature is 64 bytes")
    if not isinstance(keysets, list) or len(keysets) > MAX_KEYSET_CHAIN:
        raise SignatureError("signature-malformed", "signature.keysets", "bad key set chain")
    return _Signature(key_id, raw, tuple(canonical.dumps(k) for k in keysets))


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(".")[:3] if x.isdigit())


def _inflate(entry_path: str, method: str, stored: bytes, size: int) -> bytes:
    if method == "stored":
        return stored
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(stored, size + 1)  # never produce more than declared + 1 byte
    except zlib.error as exc:
        raise IntegrityError("entry-corrupt", entry_path, f"deflate stream: {exc}") from None
    if len(out) > size or inflater.unconsumed_tail:
        raise IntegrityError("entry-size", entry_path, f"inflates beyond its declared {size} bytes")
    if not inflater.eof or inflater.unused_data:
        raise IntegrityError("entry-corrupt", entry_path, "deflate stream truncated or followed by data")
    return out


def _check_entries(manifest: Manifest, wanted: list[str], limits: rules.Limits) -> None:
    """Entry policy over the whole manifest (step 5), before anything is decrypted or written."""
    roots = list(manifest.subpackages)
    expected = [MAIN_PART, *roots]
    if [p.name for p in manifest.parts] != expected:
        raise UnsafeEntryError("part-layout", ",".join(p.name for p in manifest.parts),
                               f"parts must be {expected}")
    all_entries = manifest.entries()
    rules.check_unique([e.path for e in all_entries])
    for part in manifest.parts:
        for entry in part.entries:
            if entry.type != "file":
                raise UnsafeEntryError("entry-type", entry.path, f"{entry.type!r} entries (links, devices, "
                                       "directories) are not allowed")
            if entry.method not in METHODS:
                raise UnsafeEntryError("entry-method", entry.path, f"unknown method {entry.method!r}")
            if entry.method == "stored" and entry.csize != entry.size:
                raise IntegrityError("entry-size", entry.path, "stored entry with csize != size")
            owner = rules.check_layout(entry.path, roots)
            if owner != part.name:
                raise UnsafeEntryError("wrong-part", entry.path, f"belongs to part {owner!r}, listed in {part.name!r}")
    rules.check_limits([(e.path, e.size, e.csize) for p in manifest.parts if p.name in wanted
                        for e in p.entries], limits)


def verify_and_unpack(data: bytes, *, trust: TrustStore, host_id: str | None = None,
                      host_private_key: X25519PrivateKey | HostKeyPair | bytes | None = None, dest: Path,
                      app_id: str | None = None, parts: Iterable[str] | None = None,
                      now: datetime | None = None, limits: rules.Limits | None = None,
                      runtime_version: str = RUNTIME_VERSION,
                      timings: dict[str, float] | None = None) -> VerifiedPackage:
    """Run the whole verification sequence and unpack into `dest` (absent or an empty directory).

    `app_id` (when given) must match the manifest; `parts` selects parts to unpack (default: all,
    and all must be present); `now` is injectable for expiry tests; `timings`, when given, receives
    the seconds spent in each step (for the bench).
    """
    clock = _Clock(timings)
    pkg = _verify(data, trust=trust, host_id=host_id, host_private_key=host_private_key, app_id=app_id,
                  parts=parts, now=now, limits=limits, runtime_version=runtime_version, clock=clock)
    dest = Path(dest)
    write_tree(dest, pkg.files)
    clock.lap("write")
    trust.record(pkg.app_id, pkg.build, pkg.version, pkg.manifest_sha256)
    clock.lap("persist")
    return replace(pkg, path=dest)


def verify_package(data: bytes, *, trust: TrustStore, host_id: str | None = None,
                   host_private_key: X25519PrivateKey | HostKeyPair | bytes | None = None,
                   app_id: str | None = None, parts: Iterable[str] | None = None,
                   now: datetime | None = None, limits: rules.Limits | None = None,
                   runtime_version: str = RUNTIME_VERSION,
                   timings: dict[str, float] | None = None) -> VerifiedPackage:
    """The whole verification sequence in memory, nothing written but the trusted state (step 8):
    the result's `files` holds the verified entries and its `path` is None (the caller unpacks,
    `write_tree`, if it needs files on disk)."""
    clock = _Clock(timings)
    pkg = _verify(data, trust=trust, host_id=host_id, host_private_key=host_private_key, app_id=app_id,
                  parts=parts, now=now, limits=limits, runtime_version=runtime_version, clock=clock)
    trust.record(pkg.app_id, pkg.build, pkg.version, pkg.manifest_sha256)
    clock.lap("persist")
    return pkg


def _verify(data: bytes, *, trust: TrustStore, host_id: str | None,
            host_private_key: X25519PrivateKey | HostKeyPair | bytes | None, app_id: str | None,
            parts: Iterable[str] | None, now: datetime | None, limits: rules.Limits | None,
            runtime_version: str, clock: _Clock) -> VerifiedPackage:
    """Steps 1 to 7, in memory."""
    now = now or datetime.now(UTC)
    limits = limits or rules.Limits()

    # 1. framing
    box = container.decode(data)
    clock.lap("framing")

    # 2. signature by a trusted key (rotations first, key set expiry)
    sig = _parse_signature(box.signature)
    for document in sig.keysets:
        if parse_keyset(document).version > trust.keyset_version:
            trust.apply_rotation(document, now)
    trust.check_keyset_fresh(now)
    public = trust.trusted_keys().get(sig.key_id)
    if public is None:
        raise SignatureError("untrusted-key", sig.key_id, "package not signed by a trusted platform key")
    verify_signature(public, sig.sig, MANIFEST_CONTEXT, box.manifest, entry="manifest")
    manifest = parse(box.manifest)
    if manifest.key_id != sig.key_id:
        raise SignatureError("key-id-mismatch", manifest.key_id, "manifest names another signing key")
    digest = manifest_digest(box.manifest)
    release = f"{manifest.app_id} build {manifest.build}"
    clock.lap("signature")

    # 3. version not older than the last one trusted for this app
    last = trust.last_trusted(manifest.app_id)
    if last is not None and manifest.build < last.build:
        raise RollbackError("rollback", release, f"this device already trusts build {last.build}")
    if last is not None and manifest.build == last.build and digest != last.manifest_sha256:
        raise RollbackError("build-reused", release, "same build number as the trusted one, different manifest")
    clock.lap("version")

    # 4. expiry, and the package is the one asked for
    if now >= manifest.expires_at:
        raise ExpiredError("expired", release, f"manifest expired at {format_time(manifest.expires_at)}")
    if app_id is not None and manifest.app_id != app_id:
        raise MismatchError("wrong-app", manifest.app_id, f"expected a package of {app_id}")
    if _version_tuple(runtime_version) < _version_tuple(manifest.min_runtime):
        raise MismatchError("runtime-too-old", manifest.min_runtime, f"this runtime is {runtime_version}")
    clock.lap("expiry")

    # 5. hashes and sizes of what is shipped; entry policy over the manifest
    listed = [p.name for p in manifest.parts]
    for name in box.parts:
        if name not in listed:
            raise IntegrityError("unlisted-part", name, "part not listed in the signed manifest")
    if [n for n in listed if n in box.parts] != list(box.parts):
        raise IntegrityError("part-order", ",".join(box.parts), "parts out of manifest order")
    wanted = listed if parts is None else [MAIN_PART, *[p for p in parts if p != MAIN_PART]]
    for name in wanted:
        if name not in listed:
            raise MismatchError("unknown-part", name, "no such part in this release")
        if name not in box.parts:
            raise IntegrityError("missing-part", name, "part listed in the manifest is absent")
    for part in manifest.parts:
        if part.name not in box.parts:
            continue
        shipped = box.parts[part.name]
        if len(shipped) != part.size:
            raise IntegrityError("part-size", part.name, f"{len(shipped)} bytes, manifest says {part.size}")
        if hashlib.sha256(shipped).hexdigest() != part.sha256:
            raise IntegrityError("part-hash", part.name, "SHA-256 does not match the manifest")
    _check_entries(manifest, wanted, limits)
    clock.lap("hashes+policy")

    # 6. decrypt
    plain: dict[str, bytes] = {}
    if manifest.recipients is not None:
        if host_id is None or host_id not in manifest.recipients:
            raise DecryptionError("not-a-recipient", str(host_id), "package is not encrypted for this host")
        if host_private_key is None:
            raise DecryptionError("no-host-key", host_id, "encrypted package needs the host's private key")
        recipient = manifest.recipients[host_id]
        cek = crypto.unwrap_key(load_host_private(host_private_key), host_id, recipient.epk, recipient.wrapped,
                                manifest.app_id, manifest.version, manifest.build)
        for name in wanted:
            part = manifest.part(name)
            nonce = crypto.unb64(part.nonce or "", name)
            if len(nonce) != crypto.NONCE_BYTES:
                raise DecryptionError("bad-nonce", name, "nonce must be 12 bytes")
            plain[name] = crypto.decrypt_part(cek, nonce, box.parts[name],
                                              crypto.part_aad(manifest.app_id, manifest.version, manifest.build,
                                                              name), name)
    else:
        if any(manifest.part(n).nonce is not None for n in listed):
            raise FormatError("manifest-schema", "nonce", "nonce on an unencrypted part")
        plain = {name: box.parts[name] for name in wanted}
    clock.lap("decrypt")

    # 7. safe unpack: check everything in memory (the caller then writes into a fresh directory)
    files: dict[str, bytes] = {}
    for name in wanted:
        part, payload, offset = manifest.part(name), plain[name], 0
        if sum(e.csize for e in part.entries) != len(payload):
            raise IntegrityError("part-layout", name, "entry sizes do not add up to the part payload")
        for entry in part.entries:
            stored = payload[offset : offset + entry.csize]
            offset += entry.csize
            content = _inflate(entry.path, entry.method, stored, entry.size)
            if len(content) != entry.size:
                raise IntegrityError("entry-size", entry.path, f"{len(content)} bytes, manifest says {entry.size}")
            if hashlib.sha256(content).hexdigest() != entry.sha256:
                raise IntegrityError("entry-hash", entry.path, "SHA-256 does not match the manifest")
            rules.check_content(entry.path, content)
            files[entry.path] = content
    _check_bundle_config(manifest, files)
    clock.lap("inflate+file hashes")
    # 8. (the caller's) persist the trusted state
    return VerifiedPackage(manifest=manifest, path=None, manifest_sha256=digest, key_id=sig.key_id,
                           parts=tuple(wanted), files=MappingProxyType(files))


def _check_bundle_config(manifest: Manifest, files: dict[str, bytes]) -> None:
    """The main part is a compiled bundle whose declared subpackages are the manifest's parts."""
    config = files.get("bundle.json")
    if config is None:
        raise UnsafeEntryError("not-a-bundle", "bundle.json", "the main part has no bundle.json")
    try:
        roots = subpackage_roots(config)
    except PackageError as exc:
        raise UnsafeEntryError("bundle-config", "bundle.json", str(exc)) from None
    if tuple(roots) != manifest.subpackages:
        raise MismatchError("subpackage-mismatch", "bundle.json",
                            f"bundle declares {roots}, manifest binds {list(manifest.subpackages)}")


def write_tree(dest: Path, files: Mapping[str, bytes]) -> None:
    """Write verified entries into `dest` (absent or an empty directory): into a fresh temporary
    directory beside it, with exclusive, no-follow opens, then renamed into place."""
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise PackageError("dest-not-empty", str(dest), "unpack target must be absent or an empty directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.unpack-", dir=dest.parent))
    made: set[Path] = set()
    try:
        for rel, content in files.items():
            target = tmp.joinpath(*rel.split("/"))
            if target.parent not in made:  # one mkdir per directory, not per file
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        if dest.exists():
            dest.rmdir()
        os.rename(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
        raise


def tree_matches(dest: Path, files: Mapping[str, bytes]) -> bool:
    """Whether `dest` holds exactly `files` (as `write_tree` leaves them) and nothing else: real
    directories and regular files only, no link anywhere, each file read (no-follow) and its bytes
    equal to the verified ones. Whoever can write the cache may have changed any of it."""
    dirs = {""} | {rel[: i + 1] for rel in files for i, ch in enumerate(rel) if ch == "/"}
    try:
        if not stat.S_ISDIR(os.lstat(dest).st_mode):
            return False
    except OSError:
        return False
    found = 0
    stack = [(str(dest), "")]
    try:
        while stack:
            where, prefix = stack.pop()
            with os.scandir(where) as it:
                entries = list(it)
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():
                    return False
                if entry.is_dir(follow_symlinks=False):
                    if rel + "/" not in dirs:
                        return False
                    stack.append((entry.path, rel + "/"))
                    continue
                want = files.get(rel)
                if want is None or not entry.is_file(follow_symlinks=False):
                    return False
                fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as fh:
                    if not stat.S_ISREG(os.fstat(fd).st_mode) or fh.read(len(want) + 1) != want:
                        return False
                found += 1
    except OSError:
        return False
    return found == len(files)
