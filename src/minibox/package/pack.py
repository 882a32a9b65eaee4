"""`pack`: a compiled bundle directory -> a signed (optionally encrypted) `.mbx` package.

Deterministic: entries are sorted, the manifest is canonical JSON, Ed25519 signatures are
deterministic, and encryption keys and nonces are derived from the input (see
:mod:`minibox.package.crypto`). The packer applies the same entry policy as the verifier, so the
platform can never sign a package that a container would refuse.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from minibox.package import canonical, container, crypto, rules
from minibox.package.errors import FormatError, UnsafeEntryError
from minibox.package.keys import MANIFEST_CONTEXT, SigningKey, load_host_public
from minibox.package.manifest import (
    APP_ID_RE,
    HOST_ID_RE,
    MAIN_PART,
    MAX_BUILD,
    RUNTIME_RE,
    VERSION_RE,
    Entry,
    Manifest,
    Part,
    Recipient,
)

#: Validity of a package when no expiry is given.
DEFAULT_VALIDITY = timedelta(days=365)
#: Deflate an entry only when it saves at least this share of its size.
MIN_DEFLATE_SAVING = 0.1
DEFLATE_LEVEL = 9


@dataclass(frozen=True)
class RawEntry:
    """An entry as the assembler writes it; `stored` is what goes in the part payload."""

    entry: Entry
    stored: bytes
    part: str = MAIN_PART


def deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15, 9)
    return comp.compress(data) + comp.flush()


def make_entry(path: str, data: bytes, part: str = MAIN_PART, *, compress: bool = True) -> RawEntry:
    method, stored = "stored", data
    if compress and data:
        packed = deflate(data)
        if len(packed) <= len(data) * (1 - MIN_DEFLATE_SAVING):
            method, stored = "deflate", packed
    entry = Entry(path=path, size=len(data), csize=len(stored), sha256=hashlib.sha256(data).hexdigest(),
                  method=method)
    return RawEntry(entry=entry, stored=stored, part=part)


def subpackage_roots(bundle_json: bytes) -> list[str]:
    """Subpackage roots (with a trailing `/`) declared in bundle.json's `app.subpackages`."""
    doc = canonical.loads(bundle_json, what="bundle.json", max_bytes=rules.MAX_ENTRY_SIZE, integers_only=False)
    app = doc.get("app") if isinstance(doc, dict) else None
    subs = (app.get("subpackages") or app.get("subPackages") or []) if isinstance(app, dict) else []
    roots: list[str] = []
    for sub in subs if isinstance(subs, list) else []:
        root = sub.get("root") if isinstance(sub, dict) else None
        if not isinstance(root, str) or not root.strip("/"):
            raise FormatError("bundle-subpackage", "bundle.json", f"bad subpackage root {root!r}")
        roots.append(root.strip("/") + "/")
    return sorted(set(roots))


def read_bundle(bundle_dir: Path) -> dict[str, bytes]:
    """Every regular file of a bundle directory by `/`-path; links and special files are refused."""
    bundle_dir = Path(bundle_dir)
    if not (bundle_dir / "bundle.json").is_file():
        raise FormatError("not-a-bundle", str(bundle_dir), "no bundle.json")
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(bundle_dir, followlinks=False):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(bundle_dir).as_posix()
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                raise UnsafeEntryError("link", rel, "symbolic links are not packed")
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise UnsafeEntryError("special-file", rel, "only regular files are packed")
            files[rel] = full.read_bytes()
    return dict(sorted(files.items()))


def bundle_entries(files: Mapping[str, bytes]) -> tuple[list[RawEntry], list[str]]:
    """Apply the entry policy to bundle files and assign each to its part."""
    roots = subpackage_roots(files["bundle.json"])
    rules.check_unique(list(files))
    out = []
    for path, data in files.items():
        part = rules.check_layout(path, roots)
        rules.check_content(path, data)
        out.append(make_entry(path, data, part))
    rules.check_limits([(r.entry.path, r.entry.size, r.entry.csize) for r in out], rules.Limits())
    return out, roots


def assemble(entries: Iterable[RawEntry], *, app_id: str, version: str, build: int, signer: SigningKey,
             roots: list[str], recipients: Mapping[str, X25519PublicKey | bytes] | None,
             created_at: datetime, expires_at: datetime, min_runtime: str,
             keysets: Iterable[bytes] = ()) -> bytes:
    """Lay out, encrypt and sign entries *without* applying the entry policy (tests use it to
    build hostile packages; `pack` checks first)."""
    part_names = [MAIN_PART, *roots]
    grouped: dict[str, list[RawEntry]] = {name: [] for name in part_names}
    for raw in entries:
        grouped.setdefault(raw.part, []).append(raw)
    plain = {name: b"".join(r.stored for r in items) for name, items in grouped.items()}
    shipped = dict(plain)
    nonces: dict[str, str | None] = dict.fromkeys(plain)
    wrapped: dict[str, Recipient] | None = None
    if recipients:
        secret = signer.raw_private()
        cek = crypto.derive_content_key(secret, [hashlib.sha256(plain[n]).hexdigest() for n in plain],
                                        app_id, version, build)
        for name, data in plain.items():
            nonce = crypto.part_nonce(cek, name)
            nonces[name] = base64.b64encode(nonce).decode("ascii")
            shipped[name] = crypto.encrypt_part(cek, nonce, data, crypto.part_aad(app_id, version, build, name))
        wrapped = {}
        for host_id in sorted(recipients):
            if not HOST_ID_RE.match(host_id):
                raise FormatError("bad-host-id", host_id, "host ids are [A-Za-z0-9_.-], at most 64")
            epk, wkey = crypto.wrap_key(secret, cek, host_id, load_host_public(recipients[host_id]),
                                        app_id, version, build)
            wrapped[host_id] = Recipient(epk=epk, wrapped=wkey)
    parts = tuple(
        Part(name=name, size=len(shipped[name]), sha256=hashlib.sha256(shipped[name]).hexdigest(),
             nonce=nonces[name], entries=tuple(r.entry for r in grouped[name]))
        for name in grouped
    )
    manifest = Manifest(app_id=app_id, version=version, build=build, min_runtime=min_runtime,
                        created_at=created_at, expires_at=expires_at, key_id=signer.key_id, parts=parts,
                        subpackages=tuple(roots), recipients=wrapped)
    manifest_bytes = manifest.to_bytes()
    signature = canonical.dumps({
        "key_id": signer.key_id,
        "sig": base64.b64encode(signer.sign(MANIFEST_CONTEXT, manifest_bytes)).decode("ascii"),
        "keysets": [canonical.loads(k, what="keyset") for k in keysets],
    })
    return container.encode(container.Container(manifest_bytes, signature, shipped))


def _default_created() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)


def pack(bundle_dir: Path, *, app_id: str, version: str, build: int, signer: SigningKey,
         recipients: Mapping[str, X25519PublicKey | bytes] | None = None, expires_at: datetime | None = None,
         created_at: datetime | None = None, min_runtime: str = "0.1.0", keysets: Iterable[bytes] = ()) -> bytes:
    """Pack a compiled bundle directory into `.mbx` bytes (the same input gives the same bytes;
    `created_at` defaults to $SOURCE_DATE_EPOCH, else now; `expires_at` to a year later)."""
    if not APP_ID_RE.match(app_id):
        raise FormatError("bad-app-id", app_id, "app ids are [A-Za-z0-9_.-], at most 64")
    if not VERSION_RE.match(version):
        raise FormatError("bad-version", version, "versions are [0-9A-Za-z.+_-], at most 64")
    if isinstance(build, bool) or not isinstance(build, int) or not 1 <= build <= MAX_BUILD:
        raise FormatError("bad-build", str(build), "build numbers are 1..2^63-1")
    if not RUNTIME_RE.match(min_runtime):
        raise FormatError("bad-min-runtime", min_runtime, "expected x.y.z")
    created = (created_at or _default_created()).replace(microsecond=0)
    expires = (expires_at or created + DEFAULT_VALIDITY).replace(microsecond=0)
    if expires <= created:
        raise FormatError("bad-expiry", "expires_at", "expiry must be after creation")
    files = read_bundle(Path(bundle_dir))
    entries, roots = bundle_entries(files)
    return assemble(entries, app_id=app_id, version=version, build=build, signer=signer, roots=roots,
                    recipients=recipients, created_at=created, expires_at=expires, min_runtime=min_runtime,
                    keysets=keysets)
