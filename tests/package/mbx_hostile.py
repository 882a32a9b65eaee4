"""The hostile-package generator: mutants of a good package, each with the rule(s) that must refuse it.

Most mutants are signed by the *trusted* platform key (as if the packer had a bug or the
signing service were abused), so they get past the signature and exercise the later checks.
SECURITY.md PKG-01..11.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from mbx_samples import CREATED, EXPIRES, NOW, sample_files

from minibox.package import HostKeyPair, Limits, SigningKey, canonical
from minibox.package.container import MAGIC, Container, decode, encode
from minibox.package.keys import KEYSET_CONTEXT, MANIFEST_CONTEXT
from minibox.package.manifest import Entry
from minibox.package.pack import RawEntry, assemble, bundle_entries, deflate, make_entry
from minibox.package.trust import make_keyset

APP = "wxhostile"
HOST = "h1"


def _seeded_signing(seed: bytes) -> SigningKey:
    return SigningKey(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest()))


def _seeded_host(seed: bytes) -> HostKeyPair:
    return HostKeyPair(X25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest()))


TRUSTED = _seeded_signing(b"trusted platform key")
STRANGER = _seeded_signing(b"someone else")
HOST_KEY = _seeded_host(b"host h1")
OTHER_HOST_KEY = _seeded_host(b"host h2")


@dataclass
class Mutant:
    name: str
    data: bytes
    rules: frozenset[str]
    host_id: str | None = HOST
    host_key: HostKeyPair | None = HOST_KEY
    preload: tuple[bytes, ...] = ()
    limits: Limits | None = None
    app_id: str | None = None


@dataclass
class Forge:
    files: dict[str, bytes] = field(default_factory=sample_files)

    def entries(self, files: dict[str, bytes] | None = None) -> list[RawEntry]:
        return bundle_entries(files or self.files)[0]

    def build(self, entries: list[RawEntry] | None = None, *, build: int = 1, encrypt: bool = False,
              signer: SigningKey = TRUSTED, expires=EXPIRES, app_id: str = APP,
              recipients: dict | None = None, keysets: tuple[bytes, ...] = ()) -> bytes:
        if recipients is None and encrypt:
            recipients = {HOST: HOST_KEY.public_bytes()}
        return assemble(entries if entries is not None else self.entries(), app_id=app_id, version="1.0.0",
                        build=build, signer=signer, roots=["packageA/"], recipients=recipients,
                        created_at=CREATED, expires_at=expires, min_runtime="0.1.0", keysets=keysets)

    # -- re-signing helpers ------------------------------------------------------------------
    @staticmethod
    def sign_raw(manifest: bytes, parts: dict[str, bytes], signer: SigningKey = TRUSTED,
                 context: bytes = MANIFEST_CONTEXT, key_id: str | None = None) -> bytes:
        sig = canonical.dumps({"key_id": key_id or signer.key_id,
                               "sig": base64.b64encode(signer.sign(context, manifest)).decode(), "keysets": []})
        return encode(Container(manifest, sig, parts))

    def remanifest(self, data: bytes, edit: Callable[[dict[str, Any]], None], *,
                   parts_edit: Callable[[dict[str, bytes]], None] | None = None, fix_hashes: bool = False) -> bytes:
        """Decode, edit the manifest JSON (and parts), optionally fix part hashes, re-sign with TRUSTED."""
        box = decode(data)
        doc = json.loads(box.manifest)
        parts = dict(box.parts)
        if parts_edit:
            parts_edit(parts)
        if fix_hashes:
            for p in doc["parts"]:
                if p["name"] in parts:
                    p["size"] = len(parts[p["name"]])
                    p["sha256"] = hashlib.sha256(parts[p["name"]]).hexdigest()
        edit(doc)
        return self.sign_raw(canonical.dumps(doc), parts)


def _with(entries: list[RawEntry], *extra: RawEntry) -> list[RawEntry]:
    return [*entries, *extra]


def _raw(path: str, data: bytes = b"x", *, part: str = "main", **entry_fields: Any) -> RawEntry:
    base = make_entry(path, data, part, compress=False)
    return replace(base, entry=replace(base.entry, **entry_fields)) if entry_fields else base


BAD_PATHS: dict[str, str] = {
    "../../evil.js": "path-traversal",
    "..": "path-traversal",
    "/abs/evil": "path-absolute",
    "/etc/passwd": "path-absolute",
    "C:/evil": "path-absolute",
    "D:evil": "path-absolute",
    "C:\\evil": "path-backslash",
    "..\\evil": "path-backslash",
    "\\\\server\\share": "path-backslash",
    "assets\\x.png": "path-backslash",
    "a/../../b": "path-traversal",
    "assets/../../b.png": "path-traversal",
    "assets/..": "path-traversal",
    "logic.js/../logic.js": "path-traversal",
    "assets/\uff0e\uff0e/b.png": "path-traversal",
    "assets/\u2025/b.png": "path-traversal",
    "assets/./x.png": "path-dot",
    ".": "path-dot",
    "assets//x.png": "path-dot",
    "assets/x.png/": "path-dot",
    "": "path-empty",
    "assets/a\x00b.png": "path-control-char",
    "assets/a\nb.png": "path-control-char",
    "assets/a\tb.png": "path-control-char",
    "assets/\x7f.png": "path-control-char",
    "assets/\u0085.png": "path-control-char",
    "assets/\u2028.png": "path-control-char",
    "assets/\u202eevil.png": "path-control-char",
    "assets/.\u200b./x.png": "path-control-char",
    "assets/ x.png": "path-trailing",
    "assets/x.png ": "path-trailing",
    "assets/x.": "path-trailing",
    "assets/con.png": "path-reserved",
    "assets/aux": "path-reserved",
    "assets/a:b.png": "path-colon",
    "assets/e\u0301.png": "path-not-nfc",
    "assets/" + "a/" * 20 + "x.png": "path-too-deep",
    "assets/" + "x" * 300 + ".png": "path-too-long",
}

ENTRY_TYPES = ("symlink", "hardlink", "directory", "chardev", "blockdev", "fifo", "socket")


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _spread(length: int, count: int, start: int = 0) -> list[int]:
    span = max(length - start, 1)
    return sorted({start + (i * span) // count for i in range(count)})


def generate() -> Iterator[Mutant]:
    f = Forge()
    good = f.entries()
    good_plain = f.build()
    good_enc = f.build(encrypt=True)

    # PKG-01: zip-slip style names (plain and encrypted)
    for path, rule in BAD_PATHS.items():
        for enc in (False, True):
            yield Mutant(f"path:{path!r}:{'enc' if enc else 'plain'}", f.build(_with(good, _raw(path)), encrypt=enc),
                         frozenset({rule}))

    # PKG-01: links, devices and other non-file entries
    for kind in ENTRY_TYPES:
        for enc in (False, True):
            yield Mutant(f"type:{kind}:{'enc' if enc else 'plain'}",
                         f.build(_with(good, _raw("assets/evil.png", b"", type=kind, target="/etc/passwd")),
                                 encrypt=enc), frozenset({"entry-type"}))
    yield Mutant("type:symlink-then-write-through",
                 f.build(_with(good, _raw("assets/link", b"", type="symlink", target="/tmp"),
                               _raw("assets/link/evil.png"))), frozenset({"path-conflict", "entry-type"}))

    # PKG-03: duplicates
    dups = {
        "exact-same-content": [_raw("assets/images/logo.png", f.files["assets/images/logo.png"])],
        "exact-other-content": [_raw("assets/images/logo.png", b"evil")],
        "case-only": [_raw("assets/Images/logo.png")],
        "case-logic": [_raw("LOGIC.JS", b"x")],
        "fullwidth": [_raw("\uff41ssets/images/logo.png")],
        "ligature": [_raw("assets/\ufb01le.png"), _raw("assets/file.png")],
        "sharp-s": [_raw("assets/stra\u00dfe.png"), _raw("assets/strasse.png")],
        "file-vs-dir": [_raw("assets/images")],
        "across-parts": [_raw("styles/packageA/pages/a/a.css", b".a{}")],
        "kelvin-sign": [_raw("assets/\u212a.png"), _raw("assets/k.png")],
    }
    for name, extra in dups.items():
        yield Mutant(f"duplicate:{name}", f.build(_with(good, *extra)),
                     frozenset({"duplicate-entry", "duplicate-entry-folded", "path-conflict", "path-not-nfc"}))

    # PKG-02: bombs, lying sizes, corrupt streams
    zeros = bytes(2 * 1024 * 1024)
    yield Mutant("bomb:ratio-asset", f.build(_with(good, make_entry("assets/zero.png", zeros))),
                 frozenset({"compression-ratio"}))
    yield Mutant("bomb:ratio-logic", f.build([e for e in good if e.entry.path != "logic.js"]
                                             + [make_entry("logic.js", b" " * (1 << 21))]),
                 frozenset({"compression-ratio"}))
    big = deflate(bytes(100_000))
    yield Mutant("size:declared-smaller", f.build(_with(good, RawEntry(Entry(
        "assets/lie.png", 1000, len(big), hashlib.sha256(bytes(1000)).hexdigest(), "deflate"), big))),
        frozenset({"entry-size"}))
    small = deflate(bytes(100))
    yield Mutant("size:declared-larger", f.build(_with(good, RawEntry(Entry(
        "assets/lie.png", 5000, len(small), hashlib.sha256(bytes(5000)).hexdigest(), "deflate"), small))),
        frozenset({"entry-size"}))
    yield Mutant("size:stored-csize", f.build(_with(good, _raw("assets/s.png", b"abc", size=2))),
                 frozenset({"entry-size"}))
    huge = deflate(bytes(17 * 1024 * 1024))
    yield Mutant("size:entry-too-large", f.build(_with(good, RawEntry(Entry(
        "assets/huge.png", 17 * 1024 * 1024, len(huge), "0" * 64, "deflate"), huge))),
        frozenset({"entry-too-large"}))
    yield Mutant("size:package-too-large", good_plain, frozenset({"package-too-large"}),
                 limits=Limits(max_total_size=2_000))
    yield Mutant("count:too-many-entries",
                 f.build(good + [_raw(f"assets/many/{i}.png", b"") for i in range(5_001)]),
                 frozenset({"too-many-entries"}))
    yield Mutant("count:limit-tightened", good_plain, frozenset({"too-many-entries"}), limits=Limits(max_entries=3))
    junk = bytes(range(256)) * 4
    yield Mutant("deflate:garbage", f.build(_with(good, RawEntry(Entry(
        "assets/g.png", 5000, len(junk), "0" * 64, "deflate"), junk))), frozenset({"entry-corrupt", "entry-size"}))
    stream = deflate(b"hello world" * 50)
    yield Mutant("deflate:trailing-data", f.build(_with(good, RawEntry(Entry(
        "assets/t.png", 550, len(stream) + 4, hashlib.sha256(b"hello world" * 50).hexdigest(), "deflate"),
        stream + b"MORE"))), frozenset({"entry-corrupt"}))
    yield Mutant("deflate:truncated", f.build(_with(good, RawEntry(Entry(
        "assets/t.png", 550, len(stream) - 3, hashlib.sha256(b"hello world" * 50).hexdigest(), "deflate"),
        stream[:-3]))), frozenset({"entry-corrupt", "entry-size"}))
    yield Mutant("method:bzip2", f.build(_with(good, _raw("assets/m.png", b"abc", method="bzip2"))),
                 frozenset({"entry-method"}))
    yield Mutant("method:zlib-wrapped", f.build(_with(good, RawEntry(Entry(
        "assets/z.png", 1100, len(zlib.compress(bytes(1100))), hashlib.sha256(bytes(1100)).hexdigest(), "deflate"),
        zlib.compress(bytes(1100))))), frozenset({"entry-corrupt", "entry-size"}))

    # PKG-04: signatures stripped, forged, substituted
    box = decode(good_plain)
    yield Mutant("sig:stripped-block", encode(Container(box.manifest, b"{}", box.parts)),
                 frozenset({"signature-missing"}))
    yield Mutant("sig:empty-block", encode(Container(box.manifest, b"", box.parts)), frozenset({"json-syntax"}))
    no_sig = MAGIC + encode(Container(box.manifest, b"", {}))[len(MAGIC):].split(b"S\x00", 1)[0]
    yield Mutant("sig:section-removed", no_sig, frozenset({"bad-layout", "truncated"}))
    forged = canonical.dumps({"key_id": TRUSTED.key_id, "sig": base64.b64encode(bytes(64)).decode(), "keysets": []})
    yield Mutant("sig:zero-bytes", encode(Container(box.manifest, forged, box.parts)), frozenset({"bad-signature"}))
    yield Mutant("sig:untrusted-key", f.build(signer=STRANGER), frozenset({"untrusted-key"}))
    yield Mutant("sig:stranger-claims-trusted-id", f.sign_raw(box.manifest, box.parts, STRANGER, key_id=TRUSTED.key_id),
                 frozenset({"bad-signature"}))
    yield Mutant("sig:keyset-context", f.sign_raw(box.manifest, box.parts, context=KEYSET_CONTEXT),
                 frozenset({"bad-signature"}))
    pretty = json.dumps(json.loads(box.manifest), indent=2).encode()
    yield Mutant("sig:reserialised-manifest", encode(Container(pretty, box.signature, box.parts)),
                 frozenset({"bad-signature"}))
    yield Mutant("sig:signed-noncanonical", f.sign_raw(pretty, box.parts), frozenset({"json-not-canonical"}))
    short = canonical.dumps({"key_id": TRUSTED.key_id, "sig": base64.b64encode(bytes(63)).decode(), "keysets": []})
    yield Mutant("sig:truncated", encode(Container(box.manifest, short, box.parts)), frozenset({"signature-malformed"}))
    notb64 = canonical.dumps({"key_id": TRUSTED.key_id, "sig": "!!notbase64!!", "keysets": []})
    yield Mutant("sig:not-base64", encode(Container(box.manifest, notb64, box.parts)),
                 frozenset({"signature-malformed"}))
    yield Mutant("sig:key-id-mismatch", f.remanifest(good_plain, lambda d: d.update(key_id=STRANGER.key_id)),
                 frozenset({"key-id-mismatch"}))
    sig_doc = json.loads(box.signature)
    yield Mutant("sig:extra-field", encode(Container(box.manifest, canonical.dumps({**sig_doc, "x": 1}), box.parts)),
                 frozenset({"signature-missing"}))
    rogue = make_keyset([STRANGER], version=2, signers=[STRANGER])
    yield Mutant("sig:rogue-rotation", f.build(signer=STRANGER, keysets=(rogue,)),
                 frozenset({"keyset-unsigned-by-trusted"}))
    half = make_keyset([STRANGER], version=2, signers=[TRUSTED])
    yield Mutant("sig:rotation-without-new-key-signature", f.build(signer=STRANGER, keysets=(half,)),
                 frozenset({"keyset-unsigned-by-new"}))
    skip = make_keyset([STRANGER], version=3, signers=[TRUSTED, STRANGER])
    yield Mutant("sig:rotation-skips-version", f.build(signer=STRANGER, keysets=(skip,)),
                 frozenset({"keyset-version"}))

    # PKG-04/08: manifest tampered after signing (byte flips and field edits)
    for i in _spread(len(box.manifest), 40):
        yield Mutant(f"manifest:flip@{i}", encode(Container(_flip(box.manifest, i), box.signature, box.parts)),
                     frozenset({"bad-signature"}))
    edits: dict[str, Callable[[dict[str, Any]], None]] = {
        "build+1": lambda d: d.update(build=d["build"] + 1),
        "app-id": lambda d: d.update(app_id="wxother"),
        "expiry-extended": lambda d: d.update(expires_at="2099-01-01T00:00:00Z"),
        "entry-hash": lambda d: d["parts"][0]["entries"][0].update(sha256="0" * 64),
        "extra-entry": lambda d: d["parts"][0]["entries"].append(dict(d["parts"][0]["entries"][0], path="assets/x")),
        "min-runtime": lambda d: d.update(min_runtime="0.0.1"),
    }
    for name, edit in edits.items():
        doc = json.loads(box.manifest)
        edit(doc)
        yield Mutant(f"manifest:unsigned-edit:{name}", encode(Container(canonical.dumps(doc), box.signature, box.parts)),
                     frozenset({"bad-signature"}))

    # PKG-04: payload bytes swapped or changed (plain and encrypted)
    for label, pkg in (("plain", good_plain), ("enc", good_enc)):
        pbox = decode(pkg)
        main = pbox.parts["main"]
        for i in _spread(len(main), 25):
            parts = dict(pbox.parts, main=_flip(main, i))
            yield Mutant(f"payload:{label}:flip@{i}", encode(Container(pbox.manifest, pbox.signature, parts)),
                         frozenset({"part-hash"}))
        sub = pbox.parts["packageA/"]
        yield Mutant(f"payload:{label}:subpackage-flip", encode(Container(
            pbox.manifest, pbox.signature, dict(pbox.parts, **{"packageA/": _flip(sub, len(sub) // 2)}))),
            frozenset({"part-hash"}))
        yield Mutant(f"payload:{label}:subpackage-longer", encode(Container(
            pbox.manifest, pbox.signature, dict(pbox.parts, **{"packageA/": sub + b"\x00"}))), frozenset({"part-size"}))

    # PKG-04/08 with a re-signed part hash: the per-file hashes still catch it
    def swap_logic(parts: dict[str, bytes]) -> None:
        logo = orig_stored["assets/images/logo.png"]
        assert logo in parts["main"]
        parts["main"] = parts["main"].replace(logo, logo[:100] + b"EVIL" + logo[104:], 1)

    orig_stored = {e.entry.path: e.stored for e in good}
    swapped_files = dict(f.files, **{"logic.js": f.files["logic.js"].replace(b"App({", b"Bad({")})
    swapped_stored = {e.entry.path: e.stored for e in f.entries(swapped_files)}

    def swap_stored(parts: dict[str, bytes]) -> None:
        assert orig_stored["logic.js"] in parts["main"]
        parts["main"] = parts["main"].replace(orig_stored["logic.js"], swapped_stored["logic.js"], 1)

    yield Mutant("swap:asset-same-length-stored", f.remanifest(good_plain, lambda d: None, parts_edit=swap_logic,
                                                               fix_hashes=True),
                 frozenset({"entry-hash", "entry-corrupt", "entry-size"}))
    yield Mutant("swap:logic-deflated", f.remanifest(good_plain, lambda d: None, parts_edit=swap_stored,
                                                     fix_hashes=True),
                 frozenset({"entry-hash", "part-layout"}))
    app_json = dict(json.loads(f.files["bundle.json"]))
    app_json["app"] = dict(app_json["app"], requiredPrivateInfos=["getLocation"], permission={"scope.userLocation": {}})
    reviewed = {e.entry.path: e for e in good}
    evil_bundle = make_entry("bundle.json", json.dumps(app_json, sort_keys=True, indent=1).encode())
    evil_entries = [replace(evil_bundle, entry=replace(evil_bundle.entry, size=reviewed["bundle.json"].entry.size,
                                                       sha256=reviewed["bundle.json"].entry.sha256))
                    if e.entry.path == "bundle.json" else e for e in good]
    yield Mutant("swap:app-json-after-review", f.build(evil_entries),
                 frozenset({"entry-hash", "entry-size", "entry-corrupt"}))

    def add_unlisted(parts: dict[str, bytes]) -> None:
        parts["main"] = parts["main"] + b"console.log('unlisted')"

    yield Mutant("inject:unlisted-file", f.remanifest(good_plain, lambda d: None, parts_edit=add_unlisted,
                                                      fix_hashes=True), frozenset({"part-layout"}))

    def drop_listed(doc: dict[str, Any]) -> None:
        doc["parts"][0]["entries"].append(dict(doc["parts"][0]["entries"][-1], path="assets/missing.png"))

    yield Mutant("inject:listed-file-missing", f.remanifest(good_plain, drop_listed), frozenset({"part-layout"}))
    yield Mutant("parts:unlisted-part", encode(Container(box.manifest, box.signature, dict(box.parts, evil=b"x"))),
                 frozenset({"unlisted-part"}))
    yield Mutant("parts:missing-subpackage", encode(Container(box.manifest, box.signature, {"main": box.parts["main"]})),
                 frozenset({"missing-part"}))
    yield Mutant("parts:reordered", encode(Container(box.manifest, box.signature,
                                                     {"packageA/": box.parts["packageA/"], "main": box.parts["main"]})),
                 frozenset({"part-order"}))
    dup_part = good_plain + encode(Container(b"", b"", {"main": box.parts["main"]}))[len(MAGIC):].split(b"S\x00", 1)[1][8:]
    yield Mutant("parts:duplicated", dup_part, frozenset({"duplicate-part", "truncated", "bad-layout"}))
    yield Mutant("parts:manifest-drops-subpackage", f.remanifest(good_plain, lambda d: d.update(subpackages=[])),
                 frozenset({"part-layout"}))
    yield Mutant("parts:entry-in-wrong-part", f.build(_with(good, _raw("assets/packageA/x.png", part="main"))),
                 frozenset({"wrong-part"}))

    # framing: truncation, trailing data, magic
    for cut in _spread(len(good_plain), 20, start=1):
        yield Mutant(f"frame:truncated@{cut}", good_plain[:cut],
                     frozenset({"truncated", "bad-magic", "bad-layout", "missing-part", "json-syntax",
                                "signature-missing", "signature-malformed"}))
    yield Mutant("frame:trailing-garbage", good_plain + b"\x00garbage", frozenset({"truncated", "bad-layout"}))
    yield Mutant("frame:bad-magic", b"PK\x03\x04" + good_plain[4:], frozenset({"bad-magic"}))
    yield Mutant("frame:empty", b"", frozenset({"bad-magic"}))
    yield Mutant("frame:zip-file", b"PK\x05\x06" + bytes(18), frozenset({"bad-magic"}))

    # PKG-05: rollback to an older validly signed build; same build, other content
    v5, v3 = f.build(build=5), f.build(build=3)
    yield Mutant("rollback:v3-after-v5", v3, frozenset({"rollback"}), preload=(v5,))
    yield Mutant("rollback:v3-after-v5-encrypted", f.build(build=3, encrypt=True), frozenset({"rollback"}),
                 preload=(v5,))
    other5 = f.build(_with(good, _raw("assets/new.png", b"new")), build=5)
    yield Mutant("rollback:same-build-other-content", other5, frozenset({"build-reused"}), preload=(v5,))

    # PKG-07/09: wrong host, wrong key, tampered ciphertext or wrapping
    for_h2 = f.build(recipients={"h2": OTHER_HOST_KEY.public_bytes()})
    yield Mutant("host:package-for-other-host", for_h2, frozenset({"not-a-recipient"}))
    yield Mutant("host:right-id-wrong-key", good_enc, frozenset({"wrong-host-key"}), host_key=OTHER_HOST_KEY)
    yield Mutant("host:no-host-id", good_enc, frozenset({"not-a-recipient"}), host_id=None)
    yield Mutant("host:no-key", good_enc, frozenset({"no-host-key"}), host_key=None)
    ebox = decode(good_enc)
    for i in _spread(len(ebox.parts["main"]), 6):
        def flip_ct(parts: dict[str, bytes], i: int = i) -> None:
            parts["main"] = _flip(parts["main"], i)
        yield Mutant(f"cipher:resigned-flip@{i}", f.remanifest(good_enc, lambda d: None, parts_edit=flip_ct,
                                                               fix_hashes=True),
                     frozenset({"ciphertext-tampered"}))
    v4enc = decode(f.build(build=4, encrypt=True))
    yield Mutant("cipher:other-version-part", f.remanifest(
        good_enc, lambda d: None, parts_edit=lambda p: p.update(main=v4enc.parts["main"]), fix_hashes=True),
        frozenset({"ciphertext-tampered"}))
    yield Mutant("cipher:truncated-tag", f.remanifest(
        good_enc, lambda d: None, parts_edit=lambda p: p.update(main=p["main"][:-16]), fix_hashes=True),
        frozenset({"ciphertext-tampered"}))

    def edit_recipient(field_name: str, value: str) -> Callable[[dict[str, Any]], None]:
        return lambda d: d["encryption"]["recipients"][HOST].update({field_name: value})

    wrapped = json.loads(ebox.manifest)["encryption"]["recipients"][HOST]["wrapped"]
    bad_wrapped = base64.b64encode(_flip(base64.b64decode(wrapped), 3)).decode()
    yield Mutant("cipher:wrapped-key-tampered", f.remanifest(good_enc, edit_recipient("wrapped", bad_wrapped)),
                 frozenset({"wrong-host-key"}))
    yield Mutant("cipher:epk-swapped", f.remanifest(good_enc, edit_recipient(
        "epk", base64.b64encode(OTHER_HOST_KEY.public_bytes()).decode())), frozenset({"wrong-host-key"}))
    yield Mutant("cipher:nonce-changed", f.remanifest(
        good_enc, lambda d: d["parts"][0].update(nonce=base64.b64encode(bytes(12)).decode())),
        frozenset({"ciphertext-tampered"}))
    yield Mutant("cipher:nonce-short", f.remanifest(
        good_enc, lambda d: d["parts"][0].update(nonce=base64.b64encode(bytes(8)).decode())),
        frozenset({"bad-nonce"}))
    yield Mutant("cipher:encryption-stripped", f.remanifest(
        good_enc, lambda d: d.update(encryption=None)), frozenset({"manifest-schema"}))

    # PKG-06: freeze (expired metadata)
    yield Mutant("expiry:expired", f.build(expires=NOW - timedelta(seconds=1)), frozenset({"expired"}))
    yield Mutant("expiry:expires-now", f.build(expires=NOW), frozenset({"expired"}))

    # PKG-07: another app's package
    yield Mutant("app:package-of-other-app", f.build(app_id="wxother"), frozenset({"wrong-app"}), app_id=APP)

    # SBX-14 / bytecode in the package
    def replaced(path: str, data: bytes) -> list[RawEntry]:
        return [make_entry(path, data) if e.entry.path == path else e for e in good]

    bytecode = {
        "logic-quickjs-bc": (replaced("logic.js", b"\x02\x05\x0emain.js" + bytes(range(40))), "bytecode"),
        "logic-quickjs-ng-bc": (replaced("logic.js", b"\x0c\x01\x04" + bytes(range(60))), "bytecode"),
        "render-wasm": (replaced("render.js", b"\x00asm\x01\x00\x00\x00"), "bytecode"),
        "render-nul": (replaced("render.js", b"var a = 1;\x00\x01\x02"), "source-text"),
        "logic-not-utf8": (replaced("logic.js", b"var a = '\xff\xfe';"), "source-text"),
        "logic-bom": (replaced("logic.js", b"\xef\xbb\xbfvar a;"), "source-text"),
        "bundle-json-binary": (replaced("bundle.json", b"\x01\x02\x03"), "bytecode"),
        "css-control": (replaced("styles/app.css", b"a{}\x1b[31m"), "source-text"),
    }
    for name, (entries, rule) in bytecode.items():
        yield Mutant(f"bytecode:{name}", f.build(entries), frozenset({rule}))
    extra_code = {
        "logic.qjsc": "bytecode-file", "render.jsc": "bytecode-file", "app.bin": "bytecode-file",
        "pages/index/index.js": "bytecode-file", "assets/x.qjsc": "asset-code", "assets/main.js": "asset-code",
        "assets/a.wasm": "asset-code", "assets/blob.bin": "asset-code", "assets/code.wxs": "asset-code",
        "styles/a.bin": "layout", "pages/index/index.wxml": "layout", "node_modules/x/package.json": "layout",
    }
    for path, rule in extra_code.items():
        yield Mutant(f"bytecode:extra:{path}", f.build(_with(good, _raw(path, b"\x02\x00\x00bytecode"))),
                     frozenset({rule}))

    # the main part must be a compiled bundle whose subpackages are the manifest's parts
    yield Mutant("bundle:no-bundle-json", f.build([e for e in good if e.entry.path != "bundle.json"]),
                 frozenset({"not-a-bundle"}))
    flat = sample_files(subpackages=False)
    yield Mutant("bundle:undeclared-subpackage", f.build(replaced("bundle.json", flat["bundle.json"])),
                 frozenset({"subpackage-mismatch"}))
    yield Mutant("bundle:config-not-json", f.build(replaced("bundle.json", b"{app: 1}")),
                 frozenset({"bundle-config"}))

    # PKG-11: malformed metadata, signed by the trusted key
    m = box.manifest
    malformed: dict[str, tuple[bytes, str]] = {
        "duplicate-key": (m[:-1] + b',"build":99}', "json-duplicate-key"),
        "nan": (m.replace(b'"build":1', b'"build":NaN'), "json-non-finite"),
        "infinity": (m.replace(b'"build":1', b'"build":1e999'), "json-float"),
        "float-build": (m.replace(b'"build":1', b'"build":1.0'), "json-float"),
        "deep-nesting": (m[:-1] + b',"x":' + b"[" * 10_000 + b"]" * 10_000 + b"}", "json-too-deep"),
        "bom": (b"\xef\xbb\xbf" + m, "json-bom"),
        "not-utf8": (m.replace(b'"1.0.0"', b'"1.0.\xff"'), "json-not-utf8"),
        "huge": (m[:-1] + b',"pad":"' + b"a" * (4 * 1024 * 1024) + b'"}', "json-too-large"),
        "not-json": (b"manifest", "json-syntax"),
    }
    for name, (raw, rule) in malformed.items():
        yield Mutant(f"metadata:{name}", f.sign_raw(raw, box.parts), frozenset({rule}))
    schema_edits: dict[str, Callable[[dict[str, Any]], None]] = {
        "unknown-field": lambda d: d.update(plugins={"x": 1}),
        "missing-field": lambda d: d.pop("expires_at"),
        "build-zero": lambda d: d.update(build=0),
        "build-too-big": lambda d: d.update(build=2**63),
        "build-bool": lambda d: d.update(build=True),
        "negative-size": lambda d: d["parts"][0]["entries"][0].update(size=-1),
        "format-2": lambda d: d.update(format=2),
        "app-id-path": lambda d: d.update(app_id="../wx"),
        "bad-time": lambda d: d.update(expires_at="tomorrow"),
        "parts-empty": lambda d: d.update(parts=[]),
        "subpackage-root-traversal": lambda d: d.update(subpackages=["../x/"]),
        "entry-unknown-field": lambda d: d["parts"][0]["entries"][0].update(mode=0o4755),
        "sha-uppercase": lambda d: d["parts"][0]["entries"][0].update(sha256="A" * 64),
    }
    for name, edit in schema_edits.items():
        yield Mutant(f"schema:{name}", f.remanifest(good_plain, edit),
                     frozenset({"manifest-schema", "manifest-format"}))


MUTANTS = list(generate())
