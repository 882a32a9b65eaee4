"""App, Page and component lifecycles in WeChat's order; the page stack and navigation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from minibox.testing import launch

TRACE_PAGE = """
const log = (s) => getApp().globalData.trace.push(s)
Page({
  onLoad(q) { log('%(n)s.onLoad ' + JSON.stringify(q)) },
  onShow() { log('%(n)s.onShow') },
  onReady() { log('%(n)s.onReady') },
  onHide() { log('%(n)s.onHide') },
  onUnload() { log('%(n)s.onUnload') },
})
"""


def trace_app(make_project: Callable[..., Path], tabs: bool = False) -> Path:
    files: dict = {
        "app.js": """App({
          globalData: { trace: [] },
          onLaunch(o) { this.globalData.trace.push('App.onLaunch ' + o.path + ' ' + JSON.stringify(o.query)) },
          onShow() { this.globalData.trace.push('App.onShow') },
          onHide() { this.globalData.trace.push('App.onHide') },
          onPageNotFound(r) { this.globalData.trace.push('App.onPageNotFound ' + r.path + ' ' + r.isEntryPage) },
        })""",
        "components/c/c.json": {"component": True},
        "components/c/c.wxml": "<view>c</view>",
        "components/c/c.js": """Component({
          lifetimes: {
            created() { getApp().globalData.trace.push('c.created') },
            attached() { getApp().globalData.trace.push('c.attached') },
            ready() { getApp().globalData.trace.push('c.ready') },
            detached() { getApp().globalData.trace.push('c.detached') },
          },
          pageLifetimes: {
            show() { getApp().globalData.trace.push('c.pageShow') },
            hide() { getApp().globalData.trace.push('c.pageHide') },
          },
        })""",
    }
    names = ["a", "b", "c", "d"]
    for n in names:
        files[f"pages/{n}/{n}.wxml"] = "<c/>" if n == "a" else f"<view>{n}</view>"
        files[f"pages/{n}/{n}.js"] = TRACE_PAGE % {"n": n}
    files["pages/a/a.json"] = {"usingComponents": {"c": "/components/c/c"}}
    app_json: dict = {"pages": [f"pages/{n}/{n}" for n in names]}
    if tabs:
        app_json["tabBar"] = {"list": [{"pagePath": "pages/a/a", "text": "A"}, {"pagePath": "pages/b/b", "text": "B"}]}
    files["app.json"] = app_json
    return make_project(files)


def test_launch_order_with_component(make_project) -> None:
    with launch(trace_app(make_project), query="x=1") as mp:
        assert mp.app_data["trace"] == [
            'App.onLaunch pages/a/a {"x":"1"}', "App.onShow",
            "c.created", "c.attached",
            'a.onLoad {"x":"1"}', "a.onShow", "c.pageShow",
            "c.ready", "a.onReady",
        ]


def test_navigation_orders_and_stack(make_project) -> None:
    with launch(trace_app(make_project)) as mp:
        n0 = len(mp.app_data["trace"])
        assert mp.navigate_to("/pages/b/b?id=7&name=x%20y")["errMsg"] == "navigateTo:ok"
        assert mp.current_page.query == {"id": "7", "name": "x%20y"}  # WeChat passes values undecoded
        assert mp.app_data["trace"][n0:] == ["a.onHide", "c.pageHide", 'b.onLoad {"id":"7","name":"x%20y"}',
                                             "b.onShow", "b.onReady"]
        n1 = len(mp.app_data["trace"])
        assert mp.redirect_to("../c/c")["errMsg"] == "redirectTo:ok"  # relative to pages/b/b
        assert mp.app_data["trace"][n1:] == ["b.onUnload", "c.onLoad {}", "c.onShow", "c.onReady"]
        assert [p.path for p in mp.page_stack] == ["pages/a/a", "pages/c/c"]
        n2 = len(mp.app_data["trace"])
        assert mp.navigate_back()["errMsg"] == "navigateBack:ok"
        assert mp.app_data["trace"][n2:] == ["c.onUnload", "a.onShow", "c.pageShow"]
        assert mp.navigate_back()["errMsg"] == "navigateBack:fail cannot navigate back at first page."
        n3 = len(mp.app_data["trace"])
        mp.relaunch("/pages/d/d")
        assert mp.app_data["trace"][n3:] == ["a.onUnload", "c.detached", "d.onLoad {}", "d.onShow", "d.onReady"]


def test_page_stack_limit_is_ten(make_project) -> None:
    with launch(trace_app(make_project)) as mp:
        for i in range(9):
            assert mp.navigate_to(f"/pages/b/b?i={i}")["errMsg"] == "navigateTo:ok"
        assert len(mp.page_stack) == 10
        assert mp.navigate_to("/pages/b/b")["errMsg"] == "navigateTo:fail webview count limit exceed"
        assert len(mp.page_stack) == 10
        mp.navigate_back(3)
        assert [p.query.get("i") for p in mp.page_stack][-1] == "5"


def test_missing_page_calls_on_page_not_found(make_project) -> None:
    with launch(trace_app(make_project)) as mp:
        r = mp.navigate_to("/pages/nope/nope")
        assert r["errMsg"] == 'navigateTo:fail page "pages/nope/nope" is not found'
        assert "App.onPageNotFound pages/nope/nope false" in mp.app_data["trace"]
        assert [p.path for p in mp.page_stack] == ["pages/a/a"]


def test_missing_entry_page_falls_back_to_first_page(make_project) -> None:
    with launch(trace_app(make_project), path="pages/gone/gone") as mp:
        assert "App.onPageNotFound pages/gone/gone true" in mp.app_data["trace"]
        assert mp.current_page.path == "pages/a/a"


def test_switch_tab_lifecycles(make_project) -> None:
    with launch(trace_app(make_project, tabs=True)) as mp:
        mp.navigate_to("/pages/c/c")
        n = len(mp.app_data["trace"])
        mp.switch_tab("/pages/b/b")  # C over A -> B
        assert mp.app_data["trace"][n:] == ["c.onUnload", "b.onLoad {}", "b.onShow", "b.onReady"]
        n = len(mp.app_data["trace"])
        mp.switch_tab("/pages/a/a")  # B -> A (kept)
        assert mp.app_data["trace"][n:] == ["b.onHide", "a.onShow", "c.pageShow"]
        assert mp.switch_tab("/pages/c/c")["errMsg"] == "switchTab:fail can not switch to no-tabBar page"
        assert mp.redirect_to("/pages/b/b")["errMsg"] == "redirectTo:fail can not redirectTo a tabbar page"


def test_app_hide_and_show(make_project) -> None:
    with launch(trace_app(make_project)) as mp:
        n = len(mp.app_data["trace"])
        mp.hide()
        mp.show()
        assert mp.app_data["trace"][n:] == ["a.onHide", "c.pageHide", "App.onHide", "App.onShow", "a.onShow",
                                            "c.pageShow"]


def test_page_events_reach_hooks(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<view>{{n}}</view>",
        "pages/p/p.js": """Page({ data: {n: []},
          onPullDownRefresh() { this.setData({n: this.data.n.concat('pull')}) },
          onReachBottom() { this.setData({n: this.data.n.concat('bottom')}) },
          onPageScroll(e) { this.setData({n: this.data.n.concat('scroll ' + e.scrollTop)}) },
        })""",
    })
    with launch(project) as mp:
        page = mp.current_page
        page.pull_down_refresh()
        page.reach_bottom()
        page.scroll_to(120)
        assert page.data["n"] == ["pull", "bottom", "scroll 120"]


def test_event_channel_both_ways(make_project) -> None:
    project = make_project({
        "pages/a/a.wxml": "<view>{{got}}</view>",
        "pages/a/a.js": """Page({ data: {got: ''},
          go() { wx.navigateTo({ url: '/pages/b/b', events: { back: (d) => this.setData({got: d.v}) },
            success: (res) => res.eventChannel.emit('hello', {v: 'from a'}) }) } })""",
        "pages/b/b.wxml": "<view>{{got}}</view>",
        "pages/b/b.js": """Page({ data: {got: ''},
          onLoad() { const ch = this.getOpenerEventChannel();
            ch.on('hello', (d) => { this.setData({got: d.v}); ch.emit('back', {v: 'from b'}) }) } })""",
    })
    with launch(project) as mp:
        a = mp.current_page
        a.call_method("go")
        assert mp.current_page.data["got"] == "from a"
        assert a.data["got"] == "from b"


@pytest.mark.parametrize("api", ["navigateTo", "redirectTo", "reLaunch", "switchTab"])
def test_navigation_without_url_fails_in_callbacks(make_project, api: str) -> None:
    project = make_project({
        "pages/a/a.wxml": "<view>{{msg}}</view>",
        "pages/a/a.js": "Page({ data: {msg: ''}, go() { wx.%s({ fail: (e) => this.setData({msg: e.errMsg}) }) } })" % api,
    })
    with launch(project) as mp:
        mp.current_page.call_method("go")
        assert mp.current_page.data["msg"] == (
            f"{api}:fail parameter error: parameter.url should be String instead of Undefined;")


def test_set_data_on_an_unloaded_page_is_ignored(make_project) -> None:
    # wux-weapp's example app: the count-down page runs a timer it never clears; after reLaunch its
    # setData reached the view for nodes the view had closed (PatchError in the host). WeChat ignores
    # setData on an unloaded page: the data changes, nothing renders.
    project = make_project({
        "pages/a/a.wxml": "<view class='n'>{{n}}</view><view wx:for='{{list}}'>{{item}}</view>",
        "pages/a/a.js": """
          Page({ data: { n: 0, list: [] },
            later() { setTimeout(() => this.setData({ n: 1, list: [1, 2] }, () => { getApp().done = true }), 100) } })""",
        "pages/b/b.wxml": "<view class='b'>b</view>",
        "app.js": "App({})",
    })
    with launch(project) as mp:
        page_a = mp.current_page
        # start the timer without letting it fire, then leave: it fires on the unloaded page
        mp.instance.command("callMethod", {"page": page_a.id, "method": "later", "args": []})
        mp.relaunch("/pages/b/b")
        mp.advance(500)
        assert mp.errors == []
        assert mp.current_page.path == "pages/b/b" and mp.current_page.query_selector(".b").text == "b"
