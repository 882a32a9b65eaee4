"""Property tests (PKG-11): whatever bytes arrive, verification ends in a typed PackageError or a
verified package, never another exception, and nothing is left on disk."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mbx_hostile import HOST, HOST_KEY, TRUSTED, Forge
from mbx_samples import NOW

from minibox.package import PackageError, TrustStore, canonical, verify_and_unpack
from minibox.package.container import decode

GOOD = Forge().build(encrypt=True)
BOX = decode(GOOD)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _verify(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trust = TrustStore.for_keys(Path(tmp) / "trust", [TRUSTED])
        work = Path(tmp) / "work"
        work.mkdir()
        try:
            verify_and_unpack(data, trust=trust, host_id=HOST, host_private_key=HOST_KEY, dest=work / "out", now=NOW)
        except PackageError as exc:
            assert exc.rule
            assert list(work.iterdir()) == []


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(1, 255)), min_size=1, max_size=8))
def test_random_byte_edits(edits):
    data = bytearray(GOOD)
    for index, xor in edits:
        data[index] ^= xor
    _verify(bytes(data))


@SETTINGS
@given(st.integers(0, len(GOOD)), st.binary(max_size=64))
def test_random_splices(at, junk):
    _verify(GOOD[:at] + junk + GOOD[at:])


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(st.sampled_from(sorted(json.loads(BOX.manifest))), _json)
def test_signed_manifest_with_any_field_value(field, value):
    """Even a manifest the trusted key signed cannot crash the verifier."""
    doc = json.loads(BOX.manifest)
    doc[field] = value
    try:
        raw = canonical.dumps(doc)
    except PackageError:
        return
    _verify(Forge.sign_raw(raw, BOX.parts))


@SETTINGS
@given(st.integers(0, 40), _json)
def test_signed_entry_with_any_value(which, value):
    doc = json.loads(BOX.manifest)
    entries = doc["parts"][0]["entries"]
    entry = entries[which % len(entries)]
    entry[sorted(entry)[which % len(entry)]] = value
    try:
        raw = canonical.dumps(doc)
    except PackageError:
        return
    _verify(Forge.sign_raw(raw, BOX.parts))


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_signature_section(sig):
    from minibox.package.container import Container, encode

    _verify(encode(Container(BOX.manifest, sig, BOX.parts)))


@SETTINGS
@given(st.lists(_json, max_size=3))
def test_arbitrary_keyset_chain(keysets):
    from minibox.package.container import Container, encode

    sig = json.loads(BOX.signature)
    sig["keysets"] = keysets
    try:
        raw = canonical.dumps(sig)
    except PackageError:
        return
    _verify(encode(Container(BOX.manifest, raw, BOX.parts)))
