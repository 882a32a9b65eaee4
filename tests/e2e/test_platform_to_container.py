"""The whole path, as a bank runs it: the platform releases an app -> a host's container checks
for updates, downloads, verifies and decrypts the package -> runs it in the sandbox under the
release's allowlist -> a user taps through it."""

from __future__ import annotations

from pathlib import Path

import httpx

from minibox.host import Host, HostConfig
from minibox.host.update import Updater
from minibox.package import HostKeyPair, TrustStore
from minibox.platform import demo
from minibox.platform.api import create_app
from minibox.platform.serve import BackgroundServer
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings
from minibox.testing import MiniProgram
from minibox.view.tree import HeadlessView
from tests.conftest import EXAMPLES


def test_released_app_runs_in_the_container(tmp_path: Path) -> None:
    platform = open_platform(Settings.for_data_dir(tmp_path / "platform", None, secure_cookies=False))
    state = demo.seed(platform, EXAMPLES)
    assert state.app, state.notes
    app_id, registered = state.app["app_id"], state.host
    with BackgroundServer(create_app(platform)) as server:
        keyset = httpx.get(f"{server.url}/api/v1/trust/keyset").content
        trust = TrustStore.create(tmp_path / "device-trust", keyset)
        host_key = HostKeyPair.load(Path(registered["private_key_file"]))
        host = Host(HostConfig(data_dir=tmp_path / "host", host_id=registered["host_id"]))
        with Updater(server.url, registered["host_id"], registered["api_key"], trust, tmp_path / "cache",
                     host_key) as updater:
            view = HeadlessView()
            instance = host.start_released(updater, app_id, "customer-1", views=[view])
            mp = MiniProgram(host, instance, view, own_host=True)
            try:
                instance.launch()
                mp.wait_idle()
                page = mp.current_page
                assert page.path == mp.instance.bundle.config["entryPage"]
                assert page.root.text  # the released app rendered something
                assert not mp.errors
                # the app's watermark template came with the signed update answer; the host drew it
                assert mp.watermark.startswith(f"customer-1 · {app_id} · 20"), mp.watermark
            finally:
                mp.close()
