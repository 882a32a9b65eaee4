"""Happy paths: pack -> verify -> unpack gives the bundle back, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mbx_samples import CREATED, EXPIRES, NOW, sample_files, write_bundle

from minibox.package import (
    DecryptionError,
    HostKeyPair,
    IntegrityError,
    MismatchError,
    SigningKey,
    TrustStore,
    join_parts,
    pack,
    split_parts,
    verify_and_unpack,
)
from minibox.package.container import decode
from minibox.package.manifest import parse

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _pack(bundle: Path, signer: SigningKey, **kw) -> bytes:
    args = {"app_id": "wx123", "version": "1.0.0", "build": 1, "signer": signer, "created_at": CREATED,
            "expires_at": EXPIRES}
    args.update(kw)
    return pack(bundle, **args)


def test_round_trip_plain(bundle_dir, signer, trust, tmp_path):
    data = _pack(bundle_dir, signer)
    result = verify_and_unpack(data, trust=trust, dest=tmp_path / "out", now=NOW, app_id="wx123")
    assert tree(result.path) == tree(bundle_dir)
    assert result.build == 1 and result.version == "1.0.0" and not result.encrypted
    assert result.parts == ("main", "packageA/")
    assert trust.last_trusted("wx123").build == 1


def test_pack_is_deterministic(bundle_dir, signer, host_keys):
    assert _pack(bundle_dir, signer) == _pack(bundle_dir, signer)
    recipients = {"bankapp": host_keys.public_bytes()}
    assert _pack(bundle_dir, signer, recipients=recipients) == _pack(bundle_dir, signer, recipients=recipients)
    assert _pack(bundle_dir, signer, build=2) != _pack(bundle_dir, signer)


def test_manifest_lists_every_file(bundle_dir, signer):
    manifest = parse(decode(_pack(bundle_dir, signer)).manifest)
    listed = {e.path: e for e in manifest.entries()}
    for rel, data in tree(bundle_dir).items():
        assert listed[rel].size == len(data)
        assert listed[rel].sha256 == hashlib.sha256(data).hexdigest()
    assert manifest.subpackages == ("packageA/",)
    assert {e.path for e in manifest.part("packageA/").entries} == {
        "styles/packageA/pages/a/a.css", "assets/packageA/images/banner.jpg"}
    assert manifest.key_id == signer.key_id
    assert {e.method for e in manifest.entries()} == {"stored", "deflate"}


def test_round_trip_encrypted(bundle_dir, signer, trust, host_keys, tmp_path):
    other = HostKeyPair.generate()
    data = _pack(bundle_dir, signer, recipients={"bankapp": host_keys.public_bytes(), "otherbank": other.public})
    assert b"minibox" not in decode(data).parts["main"]  # content is not in clear
    result = verify_and_unpack(data, trust=trust, host_id="bankapp", host_private_key=host_keys,
                               dest=tmp_path / "a", now=NOW)
    assert tree(result.path) == tree(bundle_dir) and result.encrypted
    result2 = verify_and_unpack(data, trust=trust, host_id="otherbank", host_private_key=other.private_pem(),
                                dest=tmp_path / "b", now=NOW)
    assert tree(result2.path) == tree(bundle_dir)


def test_encrypted_needs_registered_host(bundle_dir, signer, trust, host_keys, tmp_path):
    data = _pack(bundle_dir, signer, recipients={"bankapp": host_keys.public_bytes()})
    with pytest.raises(DecryptionError) as err:
        verify_and_unpack(data, trust=trust, host_id="bankapp", dest=tmp_path / "a", now=NOW)
    assert err.value.rule == "no-host-key"
    assert not (tmp_path / "a").exists()


def test_subpackages_fetched_separately(bundle_dir, signer, trust, host_keys, tmp_path):
    data = _pack(bundle_dir, signer, recipients={"bankapp": host_keys.public_bytes()})
    header, parts = split_parts(data)
    assert set(parts) == {"main", "packageA/"}
    main_only = join_parts(header, {"main": parts["main"]})
    result = verify_and_unpack(main_only, trust=trust, host_id="bankapp", host_private_key=host_keys,
                               dest=tmp_path / "main", now=NOW, parts=["main"])
    assert "assets/packageA/images/banner.jpg" not in tree(result.path)
    assert "logic.js" in tree(result.path)
    with pytest.raises(IntegrityError) as err:
        verify_and_unpack(main_only, trust=trust, host_id="bankapp", host_private_key=host_keys,
                          dest=tmp_path / "all", now=NOW)
    assert (err.value.rule, err.value.entry) == ("missing-part", "packageA/")
    full = join_parts(header, parts)
    assert full == data
    result = verify_and_unpack(full, trust=trust, host_id="bankapp", host_private_key=host_keys,
                               dest=tmp_path / "all", now=NOW)
    assert tree(result.path) == tree(bundle_dir)


def test_subpackage_of_other_release_refused(tmp_path, signer, trust):
    """PKG-07: a v4 subpackage with the v5 main package."""
    b4 = write_bundle(tmp_path / "b4", sample_files(seed=4))
    b5 = write_bundle(tmp_path / "b5", sample_files(seed=5))
    _h4, parts4 = split_parts(_pack(b4, signer, build=4))
    h5, parts5 = split_parts(_pack(b5, signer, build=5))
    mixed = join_parts(h5, {"main": parts5["main"], "packageA/": parts4["packageA/"]})
    with pytest.raises(IntegrityError) as err:
        verify_and_unpack(mixed, trust=trust, dest=tmp_path / "out", now=NOW)
    assert (err.value.rule, err.value.entry) == ("part-hash", "packageA/")


def test_wrong_app_requested(bundle_dir, signer, trust, tmp_path):
    with pytest.raises(MismatchError) as err:
        verify_and_unpack(_pack(bundle_dir, signer), trust=trust, dest=tmp_path / "o", now=NOW, app_id="wxother")
    assert (err.value.rule, err.value.entry) == ("wrong-app", "wx123")


def test_runtime_too_old(bundle_dir, signer, trust, tmp_path):
    data = _pack(bundle_dir, signer, min_runtime="9.0.0")
    with pytest.raises(MismatchError) as err:
        verify_and_unpack(data, trust=trust, dest=tmp_path / "o", now=NOW)
    assert err.value.rule == "runtime-too-old"


def test_verify_on_every_load_same_build_again(bundle_dir, signer, trust, tmp_path):
    data = _pack(bundle_dir, signer)
    for i in range(3):
        verify_and_unpack(data, trust=trust, dest=tmp_path / f"o{i}", now=NOW)


def test_dest_must_be_empty(bundle_dir, signer, trust, tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("x")
    with pytest.raises(Exception) as err:
        verify_and_unpack(_pack(bundle_dir, signer), trust=trust, dest=tmp_path / "o", now=NOW)
    assert getattr(err.value, "rule", None) == "dest-not-empty"
    empty = tmp_path / "empty"
    empty.mkdir()
    verify_and_unpack(_pack(bundle_dir, signer), trust=trust, dest=empty, now=NOW)
    assert (empty / "logic.js").is_file()


def _example_bundles() -> list[Path]:
    """Every example app: compiled with the compiler when it is available, else skipped from the list."""
    out = []
    if EXAMPLES.is_dir():
        out = sorted(p for p in EXAMPLES.iterdir() if (p / "app.json").is_file() or (p / "project.config.json").is_file())
    return out


def _compile(src: Path, out: Path) -> Path:
    from minibox import compiler

    compile_project = getattr(compiler, "compile_project", None)
    assert compile_project is not None, "minibox.compiler.compile_project is not available yet"
    compile_project(src, out)
    return out


@pytest.mark.parametrize("variant", ["sample-with-subpackage", "sample-flat", "large-assets",
                                     *[f"example:{p.name}" for p in _example_bundles()]])
def test_round_trip_every_app(variant, tmp_path, signer, host_keys):
    if variant.startswith("example:"):
        bundle = _compile(EXAMPLES / variant.split(":", 1)[1], tmp_path / "compiled")
    else:
        files = sample_files(subpackages=variant != "sample-flat",
                             asset_size=600_000 if variant == "large-assets" else 3000)
        bundle = write_bundle(tmp_path / "bundle", files)
    trust = TrustStore.for_keys(tmp_path / "trust", [signer])
    for encrypt in (False, True):
        data = _pack(bundle, signer, build=1 + encrypt,
                     recipients={"h1": host_keys.public_bytes()} if encrypt else None)
        dest = tmp_path / f"out-{encrypt}"
        result = verify_and_unpack(data, trust=trust, host_id="h1", host_private_key=host_keys, dest=dest, now=NOW)
        assert tree(result.path) == tree(bundle)
