"""Trust store: key rotation and revocation (PKG-12), rollback across restarts (PKG-05),
freeze and fast-forward recovery (PKG-06), atomic persisted state outside the cache."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from mbx_samples import CREATED, EXPIRES, NOW

from minibox.package import (
    ExpiredError,
    FormatError,
    RollbackError,
    SignatureError,
    SigningKey,
    TrustStore,
    TrustStoreError,
    make_keyset,
    pack,
    verify_and_unpack,
)


def _pack(bundle: Path, signer: SigningKey, build: int, **kw) -> bytes:
    return pack(bundle, app_id="wxapp", version=f"1.0.{build}", build=build, signer=signer, created_at=CREATED,
                expires_at=kw.pop("expires_at", EXPIRES), **kw)


def _load(data: bytes, trust: TrustStore, dest: Path, **kw):
    return verify_and_unpack(data, trust=trust, dest=dest, now=kw.pop("now", NOW), **kw)


def test_rollback_refused_and_survives_restart(bundle_dir, signer, trust, tmp_path):
    v5, v3 = _pack(bundle_dir, signer, 5), _pack(bundle_dir, signer, 3)
    _load(v5, trust, tmp_path / "a")
    with pytest.raises(RollbackError) as err:
        _load(v3, trust, tmp_path / "b")
    assert err.value.rule == "rollback" and err.value.entry == "wxapp build 3"
    assert trust.last_trusted("wxapp").build == 5
    restarted = TrustStore(trust.directory)  # a new process reading the persisted state
    with pytest.raises(RollbackError):
        _load(v3, restarted, tmp_path / "c")
    assert restarted.last_trusted("wxapp").build == 5
    _load(_pack(bundle_dir, signer, 6), restarted, tmp_path / "d")
    assert TrustStore(trust.directory).last_trusted("wxapp").version == "1.0.6"


def test_admin_rollback_is_a_new_build(bundle_dir, signer, trust, tmp_path):
    _load(_pack(bundle_dir, signer, 5), trust, tmp_path / "a")
    # the platform republishes old content as build 6: accepted
    assert _load(_pack(bundle_dir, signer, 6), trust, tmp_path / "b").build == 6


def test_rotation_via_package_then_old_key_revoked(bundle_dir, signer, trust, tmp_path):
    new = SigningKey.generate()
    keyset_v2 = make_keyset([new], version=2, signers=[signer, new])
    data = _pack(bundle_dir, new, 2, keysets=[keyset_v2])
    _load(data, trust, tmp_path / "a")
    assert trust.keyset_version == 2 and set(trust.trusted_keys()) == {new.key_id}
    assert TrustStore(trust.directory).keyset_version == 2
    # a package signed by the revoked key is refused now, even a newer build
    with pytest.raises(SignatureError) as err:
        _load(_pack(bundle_dir, signer, 9), trust, tmp_path / "b")
    assert (err.value.rule, err.value.entry) == ("untrusted-key", signer.key_id)
    # replaying the old key set is refused
    with pytest.raises(SignatureError) as err:
        trust.apply_rotation(make_keyset([signer], version=1, signers=[signer]), NOW)
    assert err.value.rule == "keyset-rollback"


def test_rotation_chain_of_two(bundle_dir, signer, trust, tmp_path):
    k2, k3 = SigningKey.generate(), SigningKey.generate()
    chain = [make_keyset([k2], version=2, signers=[signer, k2]), make_keyset([k3], version=3, signers=[k2, k3])]
    _load(_pack(bundle_dir, k3, 1, keysets=chain), trust, tmp_path / "a")
    assert trust.keyset_version == 3


def test_rotation_keeping_both_keys(bundle_dir, signer, trust, tmp_path):
    new = SigningKey.generate()
    trust.apply_rotation(make_keyset([signer, new], version=2, signers=[signer, new]), NOW)
    _load(_pack(bundle_dir, signer, 1), trust, tmp_path / "a")
    _load(_pack(bundle_dir, new, 2), trust, tmp_path / "b")


def test_fast_forward_recovery(bundle_dir, signer, trust, tmp_path):
    """A compromised key signed build 2^62; rotating with reset_builds recovers."""
    _load(_pack(bundle_dir, signer, 2**62), trust, tmp_path / "a")
    with pytest.raises(RollbackError):
        _load(_pack(bundle_dir, signer, 7), trust, tmp_path / "b")
    new = SigningKey.generate()
    trust.apply_rotation(make_keyset([new], version=2, signers=[signer, new], reset_builds=True), NOW)
    assert trust.last_trusted("wxapp") is None
    assert _load(_pack(bundle_dir, new, 7), trust, tmp_path / "c").build == 7
    with pytest.raises(SignatureError):  # the compromised key's fast-forwarded package is gone for good
        _load(_pack(bundle_dir, signer, 2**62), trust, tmp_path / "d")


def test_expired_keyset_refuses_everything(bundle_dir, signer, tmp_path):
    doc = make_keyset([signer], signers=[signer], expires_at=NOW - timedelta(days=1))
    trust = TrustStore.create(tmp_path / "trust", doc)
    with pytest.raises(ExpiredError) as err:
        _load(_pack(bundle_dir, signer, 1), trust, tmp_path / "a")
    assert err.value.rule == "keyset-expired"
    assert _load(_pack(bundle_dir, signer, 1), trust, tmp_path / "b", now=NOW - timedelta(days=2)).build == 1


def test_manifest_expiry_with_injected_clock(bundle_dir, signer, trust, tmp_path):
    data = _pack(bundle_dir, signer, 1)
    _load(data, trust, tmp_path / "a", now=EXPIRES - timedelta(seconds=1))
    with pytest.raises(ExpiredError) as err:
        _load(data, trust, tmp_path / "b", now=EXPIRES)
    assert err.value.rule == "expired"


def test_expired_rotation_refused(signer, trust):
    new = SigningKey.generate()
    with pytest.raises(ExpiredError):
        trust.apply_rotation(make_keyset([new], version=2, signers=[signer, new], expires_at=NOW), NOW)
    assert trust.keyset_version == 1


def test_root_keyset_must_be_self_signed(signer, tmp_path):
    other = SigningKey.generate()
    with pytest.raises(SignatureError) as err:
        TrustStore.create(tmp_path / "t", make_keyset([signer], signers=[other]))
    assert err.value.rule == "keyset-unsigned"


def test_missing_and_corrupt_trust_store(signer, tmp_path):
    with pytest.raises(TrustStoreError) as err:
        TrustStore(tmp_path / "nothing")
    assert err.value.rule == "no-trust-root"
    store = TrustStore.for_keys(tmp_path / "t", [signer])
    (store.directory / "state.json").write_bytes(b'{"apps": {"a": 1}, "apps": {}}')
    with pytest.raises(TrustStoreError) as err:
        store.last_trusted("a")
    assert err.value.rule == "trust-state-corrupt"
    (store.directory / "keyset.json").write_bytes(b"[]")
    with pytest.raises(FormatError):
        TrustStore(store.directory)


def test_record_never_lowers(signer, tmp_path):
    store = TrustStore.for_keys(tmp_path / "t", [signer])
    store.record("wxa", 5, "1.5", "a" * 64)
    store.record("wxa", 3, "1.3", "b" * 64)
    assert store.last_trusted("wxa").build == 5
    assert not list(store.directory.glob(".state.json.*")), "no temp files left behind"


def test_key_files_round_trip(signer):
    pem = signer.to_pem(b"secret")
    assert SigningKey.from_pem(pem, b"secret").key_id == signer.key_id
    with pytest.raises(FormatError):
        SigningKey.from_pem(pem, b"wrong")
    assert SigningKey.from_pem(signer.to_pem()).key_id == signer.key_id
    assert b"PUBLIC KEY" in signer.public_key_pem()
