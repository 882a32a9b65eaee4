"""A user's rights on the host: what each mini-program holds about them, deleted in one action
(storage, files, consent, relay number), audited without the data; per-app file retention."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from minibox.host import Host, HostConfig
from minibox.policy import AppGrants
from minibox.policy.datamin import DataForms
from minibox.policy.storage import Owner
from minibox.testing import launch

A, B = "wxrightsa00000000", "wxrightsb00000000"
PAGE = """
Page({
  data: { out: [] },
  fill() {
    wx.setStorageSync('secret', 'card 6222 0000 1111 2222')
    wx.setStorageSync('prefs', { dark: true })
    const fs = wx.getFileSystemManager()
    fs.writeFileSync(`${wx.env.USER_DATA_PATH}/statement.txt`, 'balance 1000', 'utf8')
    wx.authorize({ scope: 'scope.userLocation', complete: (r) => this.setData({ out: this.data.out.concat([r.errMsg]) }) })
  },
})
"""
APP_JSON = {"pages": ["pages/p/p"], "permission": {"scope.userLocation": {"desc": "branches"}}}


def test_overview_and_one_action_deletion(tmp_path: Path, make_project) -> None:
    asked = []
    host = Host(HostConfig(data_dir=tmp_path, consent=lambda r: asked.append(r.scope) or True,
                           privacy=lambda r: "agree"))
    project = make_project({"app.json": APP_JSON, "pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})
    try:
        for app in (A, B):
            host.grants[app] = AppGrants(data_forms=DataForms(phone="virtual"))
            with launch(project, host=host, app_id=app, user="alice") as mp:
                mp.current_page.call_method("fill")
                mp.wait_idle()
        host.relay.number_for(A, "alice", "13812345678")
        overview = {d.app_id: d for d in host.user_data.overview("alice")}
        assert set(overview) == {A, B}
        a = overview[A]
        assert a.storage_keys == 2 and a.file_bytes > 0 and a.scopes == {"scope.userLocation": True}
        assert a.relay_number and not overview[B].relay_number
        assert host.user_data.overview("bob") == []

        deleted = host.user_data.delete("alice", A)
        assert deleted == [{"app": A, "storage_keys": 2, "file_bytes": a.file_bytes, "scopes": 1, "relay_number": True}]
        assert [d.app_id for d in host.user_data.overview("alice")] == [B]
        assert host.storage.info(Owner(host.config.host_id, A, "alice"))["keys"] == []
        assert host.relay.apps_of("alice") == []
        # consent is gone too: the next authorize asks again
        with launch(project, host=host, app_id=A, user="alice") as mp:
            mp.current_page.call_method("fill")
            mp.wait_idle()
        assert asked.count("scope.userLocation") == 3
        # the audit says it happened, never what was deleted
        log = (tmp_path / "audit.jsonl").read_text()
        entry = next(json.loads(x) for x in log.splitlines() if '"userdata.delete"' in x)
        assert entry["app"] == A and entry["storage_keys"] == 2
        assert "6222" not in log and "balance" not in log

        host.user_data.delete("alice")  # everything, every app
        assert host.user_data.overview("alice") == []
    finally:
        host.close()
    # a restart brings nothing back (no cache, journal or spool holds it)
    again = Host(HostConfig(data_dir=tmp_path, consent=lambda r: True, privacy=lambda r: "agree"))
    try:
        again.grants.update({A: AppGrants(), B: AppGrants()})
        assert again.user_data.overview("alice") == []
        assert again.storage.info(Owner(again.config.host_id, B, "alice"))["keys"] == []
    finally:
        again.close()


def test_file_retention_removes_old_files_only(tmp_path: Path, make_project) -> None:
    host = Host(HostConfig(data_dir=tmp_path, consent=lambda r: True, privacy=lambda r: "agree"))
    project = make_project({"app.json": APP_JSON, "pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})
    try:
        host.grants[A] = AppGrants()
        with launch(project, host=host, app_id=A, user="alice") as mp:
            mp.current_page.call_method("fill")
            mp.wait_idle()
        o = Owner(host.config.host_id, A, "alice")
        files = [p for p in host.user_data.files.owner_dir(o).rglob("*") if p.is_file()]
        assert files
        assert host.user_data.apply_retention(A, ["alice"], file_days=30) == 0
        old = time.time() - 31 * 86400
        for p in files:
            os.utime(p, (old, old))
        assert host.user_data.apply_retention(A, ["alice"], file_days=30) == len(files)
        assert not [p for p in host.user_data.files.owner_dir(o).rglob("*") if p.is_file()]
    finally:
        host.close()


def test_the_platforms_retention_period_expires_storage_and_files(tmp_path: Path, make_project) -> None:
    from minibox.host.host import grants_from_allowlist

    host = Host(HostConfig(data_dir=tmp_path, consent=lambda r: True, privacy=lambda r: "agree"))
    project = make_project({"app.json": APP_JSON, "pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})
    try:
        host.grants[A] = grants_from_allowlist({"retention": {"storageDays": 30, "fileDays": 7}})
        host.grants[B] = grants_from_allowlist({})  # no retention: kept as long as used
        for app in (A, B):
            with launch(project, host=host, app_id=app, user="alice") as mp:
                mp.current_page.call_method("fill")
                mp.wait_idle()
        owner_a, owner_b = Owner(host.config.host_id, A, "alice"), Owner(host.config.host_id, B, "alice")
        assert host.user_data.enforce_retention()[A] == {"storage_keys": 0, "files": 0}
        later = time.time() + 31 * 86400
        for p in host.user_data.files.owner_dir(owner_a).rglob("*"):
            if p.is_file():
                os.utime(p, (time.time() - 8 * 86400,) * 2)
        done = host.user_data.enforce_retention(now=later)
        assert done[A]["storage_keys"] == 2 and done[A]["files"] >= 1 and B not in done
        assert host.storage.info(owner_a)["keys"] == [] and len(host.storage.info(owner_b)["keys"]) == 2
        assert host.storage.info(owner_a)["currentSize"] == 0  # the quota accounting follows
        # a retention period the container cannot read keeps the data
        assert grants_from_allowlist({"retention": {"storageDays": "soon"}}).retention == {}
    finally:
        host.close()
