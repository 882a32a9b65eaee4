"""Device, account and animation APIs."""

from __future__ import annotations

from minibox.testing import launch

PAGE = """
Page({
  data: { out: [] },
  push(x) { this.setData({ out: this.data.out.concat([x]) }) },
  run() {
    wx.getNetworkType({ success: (r) => this.push(['net', r.networkType]) })
    wx.setClipboardData({ data: 'IBAN 123' }).then(() => wx.getClipboardData()).then((r) => this.push(['clip', r.data]))
    wx.vibrateShort({ type: 'heavy' })
    wx.makePhoneCall({ phoneNumber: 'javascript:alert(1)' }).catch((e) => this.push(['call', e.errMsg]))
    wx.makePhoneCall({ phoneNumber: '+86 10 1234' }).then((r) => this.push(['call', r.errMsg]))
    wx.checkSession().catch((e) => this.push(['session', e.errMsg]))
    wx.login().then((r) => { this.push(['login', typeof r.code, r.code.length > 10]); return wx.checkSession() })
      .then((r) => this.push(['session', r.errMsg]))
    const rect = wx.getMenuButtonBoundingClientRect()
    this.push(['menu', rect.width, rect.height, rect.right - rect.left])
    this.push(['account', wx.getAccountInfoSync().miniProgram.appId])
    const a = wx.createAnimation({ duration: 300 })
    a.opacity(0.5).translateX(10).step().scale(2).step({ duration: 100 })
    const exported = a.export()
    this.push(['anim', exported.actions.length, exported.actions[0].animates.map(x => x.type),
               exported.actions[1].option.transition.duration, a.export().actions.length])
  },
})
"""


def test_device_and_account_apis(make_project) -> None:
    with launch(make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE}), app_id="wxdev0000000000") as mp:
        mp.current_page.call_method("run")
        out = mp.current_page.data["out"]
        assert ["net", "wifi"] in out
        assert ["clip", "IBAN 123"] in out
        assert ["call", "makePhoneCall:fail invalid phoneNumber"] in out
        assert ["call", "makePhoneCall:ok"] in out
        assert ["session", "checkSession:fail session expired"] in out
        assert ["login", "string", True] in out and ["session", "checkSession:ok"] in out
        assert ["menu", 87, 32, 87] in out
        assert ["account", "wxdev0000000000"] in out
        assert ["anim", 2, ["style", "translateX"], 100, 0] in out
        assert mp.host.device.vibrations == ["heavy"]
        assert mp.host.device.calls == ["+86 10 1234"]


def test_clipboard_is_per_app(make_project, tmp_path) -> None:
    from minibox.host import Host, HostConfig

    writer = make_project({"pages/p/p.wxml": "<view/>",
                           "pages/p/p.js": "Page({ onLoad() { wx.setClipboardData({ data: 'secret' }) } })"})
    reader = make_project({"pages/p/p.wxml": "<view>{{got}}</view>",
                           "pages/p/p.js": "Page({ data: {got: ''}, onLoad() { wx.getClipboardData({"
                                           " success: (r) => this.setData({got: r.data}),"
                                           " fail: (e) => this.setData({got: e.errMsg}) }) } })"})
    host = Host(HostConfig(data_dir=tmp_path))
    try:
        with launch(writer, host=host, app_id="wxwriter00000000"):
            pass
        with launch(reader, host=host, app_id="wxreader00000000") as mp:
            assert mp.current_page.data["got"] == "getClipboardData:fail no data"
    finally:
        host.close()


QUICKSTART_PAGE = """
const app = getApp()
Page({
  data: { userInfo: {}, hasUserInfo: false },
  onLoad() {
    // WeChat's quick-start template of 2018-2021, which many published apps are forked from: without
    // open-type=getUserInfo it falls back to wx.getUserInfo (minibox had no such API: "not a function")
    wx.getUserInfo({ success: (res) => { app.globalData.userInfo = res.userInfo; this.setData({ userInfo: res.userInfo, raw: res.rawData }) } })
  },
  profile() {
    wx.getUserProfile({ desc: 'show your name' }).then((res) => this.setData({ profile: res.userInfo.nickName }))
  },
})
"""


def test_user_info_is_the_anonymous_profile(make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view>{{userInfo.nickName}}</view>", "pages/p/p.js": QUICKSTART_PAGE,
                            "app.js": "App({ globalData: { userInfo: null } })"})
    with launch(project) as mp:
        assert mp.errors == []
        data = mp.current_page.data
        assert data["userInfo"]["nickName"] == "微信用户" and data["userInfo"]["avatarUrl"] == ""
        assert '"nickName":"微信用户"' in data["raw"]
        mp.current_page.call_method("profile")
        assert mp.current_page.data["profile"] == "微信用户"
        assert mp.current_page.query_selector("view").text == "微信用户"
