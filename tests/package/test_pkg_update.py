"""The container's update client against a real HTTP platform on 127.0.0.1."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from mbx_samples import CREATED, EXPIRES, NOW, sample_files, write_bundle
from mbx_server import HOST_API_KEY, PlatformState, Release, dead_url, serve

from minibox.host.update import (
    DownloadError,
    NoRelease,
    NotCached,
    TakenDown,
    UpdateProtocolError,
    Updater,
    UpdateServerUnreachable,
)
from minibox.package import (
    DecryptionError,
    ExpiredError,
    HostKeyPair,
    IntegrityError,
    RollbackError,
    SignatureError,
    SigningKey,
    TrustStore,
    TrustStoreError,
    pack,
)

APP = "wxbank"


@pytest.fixture
def env(tmp_path, signer, host_keys):
    bundle = write_bundle(tmp_path / "bundle", sample_files(asset_size=200_000))
    state = PlatformState(signer=signer, now=NOW)

    def release(build: int, encrypt: bool = True, expires=EXPIRES) -> Release:
        data = pack(bundle, app_id=APP, version=f"1.{build}", build=build, signer=signer, created_at=CREATED,
                    expires_at=expires, recipients={"bankapp": host_keys.public_bytes()} if encrypt else None)
        return Release(APP, f"1.{build}", build, data)

    trust = TrustStore.for_keys(tmp_path / "trust", [signer])

    def updater(base: str, **kw) -> Updater:
        return Updater(base, "bankapp", kw.pop("key", HOST_API_KEY), trust, tmp_path / "cache",
                       kw.pop("host_private_key", host_keys), now=kw.pop("now", lambda: NOW), **kw)

    with serve(state) as base:
        yield state, base, release, updater, trust


def test_check_sends_identity_and_attributes(env):
    state, base, release, updater, _ = env
    state.publish(release(1))
    with updater(base) as up:
        info = up.check(APP, "u1", region="cn-sh", tags=["vip", "beta"])
    assert (info.build, info.version, info.size) == (1, "1.1", len(state.releases[APP].data))
    assert info.url == f"{base}/api/v1/packages/{info.sha256}.mbx"
    assert info.allowlist == {"request": ["https://api.bank.example"]}
    req = state.requests[-1]
    assert req["path"] == f"/api/v1/hosts/bankapp/apps/{APP}/update"
    assert req["query"] == {"user_id": "u1", "region": "cn-sh", "tags": "vip,beta"} and req["key"] == HOST_API_KEY


def test_update_install_then_verify_on_every_load(env, tmp_path):
    state, base, release, updater, trust = env
    state.publish(release(1))
    with updater(base) as up:
        first = up.update(APP, "u1")
        assert first.build == 1 and (first.path / "logic.js").is_file()
        # tamper with the unpacked copy: the next load unpacks afresh from verified bytes
        (first.path / "logic.js").write_text("evil()")
        second = up.update(APP, "u1")
        assert (second.path / "logic.js").read_bytes() != b"evil()"
        assert sum(1 for r in state.requests if r["path"].startswith("/api/v1/packages/")) == 1
        # tamper with the cached package: load refuses it
        cached = tmp_path / "cache" / "packages" / f"{state.releases[APP].sha256}.mbx"
        raw = bytearray(cached.read_bytes())
        raw[-10] ^= 1
        cached.write_bytes(bytes(raw))
        with pytest.raises(IntegrityError) as err:
            up.load(APP)
        assert err.value.rule == "part-hash"
    assert trust.last_trusted(APP).build == 1


def test_load_reuses_the_unpacked_tree_only_while_it_holds_exactly_the_verified_files(env, tmp_path):
    """Each load verifies the cached package in full, in memory; the tree on disk (where the assets
    are read) is used again only if it still holds exactly the verified files: a changed, added or
    removed file, or a link in place of a file or folder, and a fresh tree is written."""
    import os

    from minibox.runtime.bundle import LoadedBundle

    state, base, release, updater, _ = env
    state.publish(release(1))
    with updater(base) as up:
        first = up.update(APP, "u1")
        assert up.load(APP).path == first.path  # untouched: used again
        logo = first.path / "assets" / "images" / "logo.png"
        tampering = [
            lambda p: (p / "assets" / "images" / "logo.png").write_bytes(b"\x89PNG evil"),
            lambda p: (p / "assets" / "images" / "extra.png").write_bytes(b"x"),
            lambda p: (p / "assets" / "images" / "logo.png").unlink(),
            lambda p: (p / "assets" / "sneaky").mkdir(),
            lambda p: ((p / "assets" / "images" / "logo.png").unlink(),
                       os.symlink(tmp_path / "elsewhere.png", p / "assets" / "images" / "logo.png")),
            lambda p: (os.rename(p / "styles", tmp_path / "styles-moved"),
                       os.symlink(tmp_path / "styles-moved", p / "styles")),
        ]
        (tmp_path / "elsewhere.png").write_bytes(logo.read_bytes())  # same bytes, behind a link
        current = first.path
        for tamper in tampering:
            tamper(current)
            again = up.load(APP)
            assert again.path != current and not os.path.islink(again.path / "styles")
            assert (again.path / "assets" / "images" / "logo.png").read_bytes() == logo_bytes(again)
            assert sorted(p.relative_to(again.path).as_posix() for p in again.path.rglob("*") if p.is_file()) \
                == sorted(again.files)
            current = again.path
        # the runtime loads the verified bytes, not the tree: a change after the load is not run
        (current / "logic.js").write_text("evil()")
        pkg = up.load(APP)
        assert LoadedBundle.from_package(pkg).logic_js == pkg.files["logic.js"].decode()
        assert len(list((tmp_path / "cache" / "run" / APP).iterdir())) == 1  # earlier trees are gone


def logo_bytes(pkg) -> bytes:
    return pkg.files["assets/images/logo.png"]


def test_new_release_replaces_cached_one(env, tmp_path):
    state, base, release, updater, _ = env
    state.publish(release(1))
    with updater(base) as up:
        up.update(APP, "u1")
        state.publish(release(2))
        assert up.update(APP, "u1").build == 2
        assert [p.stem for p in (tmp_path / "cache" / "packages").glob("*.mbx")] == [state.releases[APP].sha256]


def test_offline_start_from_verified_cache(env):
    state, base, release, updater, _ = env
    state.publish(release(3))
    with updater(base) as up:
        up.update(APP, "u1")
    with updater(dead_url()) as offline:  # a restarted container, platform unreachable
        with pytest.raises(UpdateServerUnreachable) as err:
            offline.check(APP, "u1")
        assert err.value.rule == "unreachable"
        assert offline.update(APP, "u1").build == 3


def test_unreachable_without_cache_is_a_clear_error(env):
    *_, updater, _ = env
    with updater(dead_url()) as up, pytest.raises(UpdateServerUnreachable) as err:
        up.update(APP, "u1")
    assert err.value.rule == "unreachable" and "127.0.0.1" in str(err.value)
    with updater(dead_url()) as up, pytest.raises(NotCached):
        up.load(APP)


def test_no_release_and_takedown(env, tmp_path):
    state, base, release, updater, _ = env
    with updater(base) as up:
        with pytest.raises(NoRelease) as err:
            up.check(APP, "u1")
        assert err.value.rule == "no_release"
        state.publish(release(1))
        up.update(APP, "u1")
        state.taken_down.add(APP)
        with pytest.raises(TakenDown):
            up.update(APP, "u1")
        with pytest.raises(NotCached):
            up.load(APP)
    assert list((tmp_path / "cache" / "packages").iterdir()) == []


def test_download_resumes_after_dropped_connection(env):
    state, base, release, updater, _ = env
    state.publish(release(1))
    state.drop_after = 100_000
    with updater(base) as up:
        with pytest.raises(UpdateServerUnreachable) as err:
            up.update(APP, "u1")
        assert err.value.rule == "download-interrupted"
        assert up.update(APP, "u1").build == 1
    ranges = [r.get("range") for r in state.requests if r["path"].startswith("/api/v1/packages/")]
    assert len(ranges) == 2 and ranges[0] is None
    resumed_at = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 100_000


def test_resume_when_server_ignores_range(env):
    state, base, release, updater, _ = env
    state.publish(release(1))
    state.drop_after = 50_000
    state.ignore_range = True
    with updater(base) as up:
        with pytest.raises(UpdateServerUnreachable):
            up.update(APP, "u1")
        assert up.update(APP, "u1").build == 1


def test_endless_body_is_cut(env, tmp_path):
    state, base, release, updater, _ = env
    state.publish(release(1))
    state.endless = True
    with updater(base) as up, pytest.raises(DownloadError) as err:
        up.update(APP, "u1")
    assert err.value.rule == "too-long"
    assert list((tmp_path / "cache" / "partial").iterdir()) == []


def test_hash_mismatch_refused(env):
    state, base, release, updater, _ = env
    rel = release(1)
    state.publish(rel)
    state.packages[rel.sha256] = rel.data[:-1] + bytes([rel.data[-1] ^ 1])
    with updater(base) as up, pytest.raises(DownloadError) as err:
        up.update(APP, "u1")
    assert err.value.rule == "hash-mismatch"


def test_redirect_and_foreign_origin_refused(env):
    state, base, release, updater, _ = env
    state.publish(release(1))
    with updater(base) as up:
        state.package_url = "http://evil.example/api/v1/packages/x.mbx"
        with pytest.raises(UpdateProtocolError) as err:
            up.check(APP, "u1")
        assert err.value.rule == "foreign-origin"
        state.redirect_to = "http://evil.example/update"
        with pytest.raises(UpdateProtocolError) as err:
            up.check(APP, "u1")
        assert err.value.rule == "redirect-refused"


def test_wrong_api_key(env):
    state, base, release, updater, _ = env
    state.publish(release(1))
    with updater(base, key="wrong") as up, pytest.raises(UpdateProtocolError) as err:
        up.check(APP, "u1")
    assert err.value.rule == "http-401"


def test_server_rollback_refused_and_old_build_kept(env):
    state, base, release, updater, trust = env
    state.publish(release(5))
    with updater(base) as up:
        up.update(APP, "u1")
        state.publish(release(3))
        with pytest.raises(RollbackError):
            up.update(APP, "u1")
        assert up.load(APP).build == 5
    assert TrustStore(trust.directory).last_trusted(APP).build == 5


def test_wrong_host_key_cannot_open(env):
    state, base, release, updater, _ = env
    state.publish(release(1))
    with updater(base, host_private_key=HostKeyPair.generate()) as up, pytest.raises(DecryptionError) as err:
        up.update(APP, "u1")
    assert err.value.rule == "wrong-host-key"
    with updater(base) as up:
        assert up.current(APP) is None


def test_expired_cache_does_not_start(env):
    state, base, release, updater, _ = env
    state.publish(release(1, expires=NOW + timedelta(days=1)))
    with updater(base) as up:
        up.update(APP, "u1")
    with updater(dead_url(), now=lambda: NOW + timedelta(days=2)) as up, pytest.raises(ExpiredError):
        up.update(APP, "u1")


def test_trust_store_must_be_outside_cache(tmp_path, signer):
    trust = TrustStore.for_keys(tmp_path / "cache" / "trust", [signer])
    with pytest.raises(TrustStoreError) as err:
        Updater("http://127.0.0.1:1", "bankapp", "k", trust, tmp_path / "cache")
    assert err.value.rule == "trust-inside-cache"


def test_unsigned_package_from_server_refused(env, tmp_path):
    state, base, _release, updater, trust = env
    bundle = write_bundle(tmp_path / "b2", sample_files())
    rogue = pack(bundle, app_id=APP, version="9", build=9, signer=SigningKey.generate(), created_at=CREATED,
                 expires_at=EXPIRES)
    state.publish(Release(APP, "9", 9, rogue))
    with updater(base) as up, pytest.raises(Exception) as err:
        up.update(APP, "u1")
    assert getattr(err.value, "rule", None) == "untrusted-key"
    assert trust.last_trusted(APP) is None
    assert hashlib.sha256(rogue).hexdigest() not in {p.stem for p in (tmp_path / "cache" / "apps").glob("*")}


@pytest.mark.parametrize(("case", "rule"), [
    ("unsigned", "unsigned-answer"),
    ("rogue_key", "untrusted-key"),
    ("widened_allowlist", "bad-signature"),
    ("other_user", "wrong-audience"),
    ("stale", "stale-answer"),
])
def test_update_answers_must_be_signed_for_this_host_and_user(env, case, rule):
    """The answer carries the allowlist: a proxy must not be able to widen it or replay another's."""
    from minibox.package.answer import sign_answer

    state, base, release, updater, _ = env
    state.publish(release(1))
    if case == "unsigned":
        state.signer = None
    elif case == "rogue_key":
        state.signer = SigningKey.generate()
    elif case == "widened_allowlist":
        state.tamper = lambda a: {**a, "allowlist": {"request": ["https://evil.example"]}}
    elif case == "other_user":
        state.tamper = lambda a: sign_answer(state.signer, {**a, "user_id": "victim"}, now=NOW)
    elif case == "stale":
        state.now = NOW - timedelta(days=3)
    with updater(base) as up, pytest.raises(SignatureError) as err:
        up.check(APP, "u1")
    assert err.value.rule == rule
