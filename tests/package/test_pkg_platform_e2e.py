"""End to end with the real management platform: a seeded demo platform releases an example app,
and the container's Updater fetches, verifies, decrypts and loads it (and starts offline later)."""

from __future__ import annotations

from pathlib import Path

import httpx

from minibox.host.update import Updater
from minibox.package import HostKeyPair, TrustStore
from minibox.platform import demo
from minibox.platform.api import create_app
from minibox.platform.serve import BackgroundServer
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings

from mbx_server import dead_url  # isort: skip

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_updater_against_real_platform(tmp_path: Path):
    platform = open_platform(Settings.for_data_dir(tmp_path / "platform", None, secure_cookies=False))
    state = demo.seed(platform, EXAMPLES)
    assert state.app, state.notes
    app_id, host = state.app["app_id"], state.host
    with BackgroundServer(create_app(platform)) as server:
        keyset = httpx.get(f"{server.url}/api/v1/trust/keyset").content
        trust = TrustStore.create(tmp_path / "device-trust", keyset)
        host_key = HostKeyPair.load(Path(host["private_key_file"]))
        with Updater(server.url, host["host_id"], host["api_key"], trust, tmp_path / "cache", host_key) as up:
            info = up.check(app_id, "u1", region="cn-sh", tags=["vip"])
            result = up.update(app_id, "u1")
            assert result.encrypted and result.build == info.build and result.app_id == app_id
            assert (result.path / "bundle.json").is_file() and (result.path / "logic.js").is_file()
            again = up.update(app_id, "u1")
            assert again.manifest_sha256 == result.manifest_sha256
    with Updater(dead_url(), host["host_id"], host["api_key"], TrustStore(tmp_path / "device-trust"),
                 tmp_path / "cache", host_key) as offline:
        assert offline.update(app_id, "u1").build == info.build
    assert TrustStore(tmp_path / "device-trust").last_trusted(app_id).build == info.build
