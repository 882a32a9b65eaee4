"""Issue 10: an app's privacy settings and watermark, from the platform's allowlist to the host.

The allowlist's `privacy` limits the permission scopes and `requiredPrivateInfos` APIs the app may ask
for at all (the host refuses the rest in WeChat's shape, without asking the user); its `watermark` is
drawn by the host over every page, with the host's own.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from minibox.host import Host, HostConfig
from minibox.host.host import grants_from_allowlist
from minibox.policy.permissions import ConsentRequest
from minibox.policy.watermark import combined, render
from minibox.testing import launch

APP_JSON = {"pages": ["pages/index/index"], "requiredPrivateInfos": ["getLocation", "chooseLocation"],
            "permission": {"scope.userLocation": {"desc": "to find branches"}}}
PAGE_JS = """
Page({
  data: { results: {} },
  onLoad() {
    const note = (name) => ({
      success: (r) => this.setData({ ['results.' + name]: r.errMsg }),
      fail: (e) => this.setData({ ['results.' + name]: e.errMsg + (e.errno ? ' #' + e.errno : '') }),
    });
    wx.getLocation({ type: 'gcj02', ...note('getLocation') });
    wx.chooseLocation({ latitude: 1, longitude: 2, ...note('chooseLocation') });
    wx.authorize({ scope: 'scope.record', ...note('record') });
  },
});
"""


class Provider:
    def current(self, ctx: Any, coord_type: str) -> dict[str, Any]:
        return {"latitude": 31.2, "longitude": 121.4, "accuracy": 10, "type": coord_type}

    def choose(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any] | None:
        return {"name": "Branch", "address": "1 Rd", "latitude": 1, "longitude": 2}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    files = {"project.config.json": json.dumps({"appid": "test", "miniprogramRoot": ""}),
             "app.json": json.dumps(APP_JSON), "app.js": "App({})\n",
             "pages/index/index.json": "{}", "pages/index/index.wxml": "<view>{{results.getLocation}}</view>\n",
             "pages/index/index.js": PAGE_JS}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def run(project: Path, tmp_path: Path, allowlist: dict[str, Any], **config: Any) -> tuple[dict[str, str], Any]:
    asked: list[str] = []

    def consent(req: ConsentRequest) -> bool:
        asked.append(req.scope)
        return True

    host = Host(HostConfig(data_dir=tmp_path / "host", host_id="bank-app", consent=consent,
                           privacy=lambda req: "agree", location_provider=Provider(), **config))
    try:
        with launch(project, host=host, app_id="wxbank0001", user="customer-42",
                    grants=grants_from_allowlist(allowlist)) as mp:
            results = mp.current_page.data["results"]
            assert set(results) == {"getLocation", "chooseLocation", "record"}, results
            return results, (asked, mp.watermark, host.config.host_id)
    finally:
        host.close()


def test_without_privacy_settings_the_platform_does_not_restrict(project: Path, tmp_path: Path) -> None:
    results, (asked, watermark, _) = run(project, tmp_path, {})
    assert results == {"getLocation": "getLocation:ok", "chooseLocation": "chooseLocation:ok",
                       "record": "authorize:ok"}
    assert sorted(asked) == ["scope.record", "scope.userLocation"]
    assert watermark == ""  # no template anywhere: nothing drawn


def test_scopes_and_infos_not_granted_fail_in_wechats_shape(project: Path, tmp_path: Path) -> None:
    results, (asked, _, _) = run(project, tmp_path, {
        "privacy": {"scopes": ["scope.userLocation"], "infos": ["getLocation"]}})
    assert results == {
        "getLocation": "getLocation:ok",
        "chooseLocation": "chooseLocation:fail api scope is not declared in the privacy agreement #112",
        "record": "authorize:fail auth deny",
    }
    assert asked == ["scope.userLocation"]  # the user is never asked for what the app may not have


def test_a_scope_not_granted_is_refused_before_any_prompt(project: Path, tmp_path: Path) -> None:
    results, (asked, _, _) = run(project, tmp_path, {
        "privacy": {"scopes": [], "infos": ["getLocation", "chooseLocation"]}})
    assert results["getLocation"] == "getLocation:fail auth deny"
    assert results["chooseLocation"] == "chooseLocation:ok"  # needs an info, not a scope
    assert asked == []


def test_unreadable_privacy_settings_fail_closed() -> None:
    grants = grants_from_allowlist({"privacy": {"scopes": ["scope.nonsense"]}})
    assert grants.scopes_allowed == frozenset() and grants.private_infos_allowed == frozenset()
    assert grants_from_allowlist({}).scopes_allowed is None


def test_the_apps_watermark_is_drawn_with_the_hosts(project: Path, tmp_path: Path) -> None:
    today = datetime.now().strftime("%Y-%m-%d")
    _, (_, watermark, _) = run(project, tmp_path, {"watermark": "{user} · {app} · {date}"})
    assert watermark == f"customer-42 · wxbank0001 · {today}"
    _, (_, both, _) = run(project, tmp_path, {"watermark": "{user} · {app}"}, watermark="{host} {user}")
    assert both == "customer-42 · wxbank0001 · bank-app customer-42"  # the app's, then the host's
    _, (_, host_only, _) = run(project, tmp_path, {}, watermark="{host} {time}")
    assert host_only.startswith("bank-app ") and len(host_only) == len("bank-app 12:34")
    # an unreadable template is not dropped: a fixed one is drawn instead
    assert grants_from_allowlist({"watermark": "{user.__class__}"}).watermark == "{user} · {app}"


def test_rendering_replaces_only_the_placeholders() -> None:
    now = datetime(2026, 12, 3, 9, 5)
    assert render("{user}@{host} {date} {time} {user.__class__} {0}", user="u", app="a", host="h",
                  now=now) == "u@h 2026-12-03 09:05 {user.__class__} {0}"
    assert combined("{user}", "{user}", user="u", app="a", host="h") == "u"  # the same text once
    assert combined("", None, user="u", app="a", host="h") == ""
    assert len(render("{user}" * 40, user="x" * 50, app="a", host="h")) == 200
