"""The headless test API itself: automator-style helpers."""

from __future__ import annotations

from minibox.testing import launch

PAGE = {
    "pages/p/p.wxml": '<view class="a" data-x="1"><text>hi &lt;b&gt;</text></view><view class="user">{{name}}</view>',
    "pages/p/p.js": """Page({ data: { name: '' },
      load() { wx.request({ url: 'https://api.example.com/me', success: (r) => this.setData({ name: r.data.name }),
                            fail: (e) => this.setData({ name: e.errMsg }) }) } })""",
}


def test_call_wx_method(make_project) -> None:
    with launch(make_project(PAGE)) as mp:
        assert mp.call_wx_method("getSystemInfoSync")["windowWidth"] == 375
        mp.call_wx_method("setStorageSync", "k", [1, 2])
        assert mp.call_wx_method("getStorage", {"key": "k"})["data"] == [1, 2]
        assert mp.storage() == {"k": [1, 2]}


def test_mock_wx_method(make_project) -> None:
    with launch(make_project(PAGE)) as mp:
        mp.mock_wx_method("request", {"data": {"name": "Ann"}, "statusCode": 200})
        mp.current_page.call_method("load")
        assert mp.current_page.data["name"] == "Ann"
        mp.mock_wx_method("request", {}, fail=True)
        mp.current_page.call_method("load")
        assert mp.current_page.data["name"] == "request:fail mocked"
        mp.restore_wx_method("request")
        assert mp.call_wx_method("getStorageInfoSync")["keys"] == []


def test_outer_wxml(make_project) -> None:
    with launch(make_project(PAGE)) as mp:
        el = mp.current_page.query_selector(".a")
        assert el.outer_wxml == '<view class="a"><text>hi &lt;b&gt;</text></view>'
        assert el.dataset == {"x": "1"}


def test_tap_is_quick_and_longpress_holds(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": '<view id="b" bindtouchstart="down" bindtouchend="up" bindtap="tap" bindlongpress="long">+</view>',
        "pages/p/p.js": """Page({ data: { log: [] },
          add(x) { this.setData({ log: this.data.log.concat(x) }) },
          down() { this.timer = setTimeout(() => this.add('held 350ms'), 350) },
          up() { clearTimeout(this.timer) },
          tap() { this.add('tap') },
          long() { this.add('longpress') } })""",
    })
    with launch(project) as mp:
        button = mp.current_page.query_selector("#b")
        button.tap()
        assert mp.current_page.data["log"] == ["tap"]
        button.longpress()
        assert mp.current_page.data["log"] == ["tap", "held 350ms", "longpress"]
