"""wx APIs of the runtime core: callbacks vs. promises, storage, system info, timers, UI."""

from __future__ import annotations

from minibox.testing import launch

API_PAGE = """
Page({
  data: { out: [] },
  push(x) { this.setData({ out: this.data.out.concat([x]) }) },
  storageStyles() {
    wx.setStorageSync('a', { n: 1, when: new Date(86400000) })
    const a = wx.getStorageSync('a')
    this.push(['sync', a.n, a.when instanceof Date, a.when.getTime()])
    this.push(['missing', wx.getStorageSync('nope')])
    wx.setStorage({ key: 'b', data: [1, 2], success: (r) => this.push(['cb', r.errMsg]) })
    wx.getStorage({ key: 'b' }).then((r) => this.push(['promise', r.data, r.errMsg]))
    wx.getStorage({ key: 'zz', fail: (e) => this.push(['fail', e.errMsg]), complete: () => this.push(['complete']) })
    wx.getStorage({ key: 'zz' }).catch((e) => this.push(['reject', e.errMsg]))
    const info = wx.getStorageInfoSync()
    this.push(['info', info.keys.sort(), info.limitSize])
    wx.removeStorageSync('a')
    this.push(['removed', wx.getStorageSync('a')])
  },
  unknown() {
    return [typeof wx.definitelyNotAnApi, typeof wx.openBluetoothAdapter, typeof wx.getStorageSync, wx.canIUse('showToast'),
            wx.canIUse('notAThing'), typeof wx.env.USER_DATA_PATH, wx.canIUse('button.open-type.getUserInfo'),
            wx.canIUse('live-pusher')]
  },
  system() {
    const s = wx.getSystemInfoSync(), w = wx.getWindowInfo()
    return [s.windowWidth, s.SDKVersion, w.windowHeight, typeof s.pixelRatio]
  },
  timers() {
    const log = []
    setTimeout(() => this.push('t100'), 100)
    setTimeout(() => this.push('t50'), 50)
    const iv = setInterval(() => { this.push('iv'); if (this.data.out.filter(x => x === 'iv').length === 3) clearInterval(iv) }, 30)
    const gone = setTimeout(() => this.push('never'), 10)
    clearTimeout(gone)
    wx.nextTick(() => this.push('tick'))
    Promise.resolve().then(() => this.push('micro'))
    this.push('sync')
  },
  ui() {
    wx.showLoading({ title: 'Loading' })
    wx.hideLoading()
    wx.showToast({ title: 'Saved', duration: 2000 })
    wx.showModal({ title: 'Hi', content: 'OK?', confirmText: 'TooLongText' }).catch((e) => this.push(e.errMsg))
    wx.showModal({ title: 'Edit', editable: true }).then((r) => this.push(['modal', r.confirm, r.content]))
    wx.showActionSheet({ itemList: ['a', 'b'] }).catch((e) => this.push(e.errMsg))
  },
})
"""


def test_storage_callbacks_and_promises(make_project) -> None:
    with launch(make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": API_PAGE})) as mp:
        mp.current_page.call_method("storageStyles")
        out = mp.current_page.data["out"]
    assert out[0] == ["sync", 1, True, 86400000]
    assert out[1] == ["missing", ""]
    assert ["info", ["a", "b"], 10240] in out
    assert ["removed", ""] in out
    assert ["cb", "setStorage:ok"] in out
    assert ["promise", [1, 2], "getStorage:ok"] in out
    assert ["fail", "getStorage:fail data not found"] in out
    assert out.index(["fail", "getStorage:fail data not found"]) < out.index(["complete"])
    assert ["reject", "getStorage:fail data not found"] in out
    # callbacks are asynchronous: everything synchronous came first
    assert out.index(["removed", ""]) < out.index(["cb", "setStorage:ok"])


def test_unknown_apis_are_undefined(make_project) -> None:
    with launch(make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": API_PAGE})) as mp:
        assert mp.current_page.call_method("unknown") == ["undefined", "undefined", "function", True, False, "string", True, False]


def test_system_info(make_project) -> None:
    with launch(make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": API_PAGE})) as mp:
        assert mp.current_page.call_method("system") == [375, "3.4.0", 603, "number"]


def test_timers_fire_in_order_on_virtual_time(make_project) -> None:
    with launch(make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": API_PAGE})) as mp:
        mp.current_page.call_method("timers")
        assert mp.current_page.data["out"] == ["sync", "tick", "micro", "iv", "t50", "iv", "iv", "t100"]


def test_timers_wait_for_advance_when_idle_is_not_called(make_project) -> None:
    with launch(make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": API_PAGE})) as mp:
        mp.instance.command("callMethod", {"page": mp.current_page.id, "method": "timers", "args": []})
        assert mp.current_page.data["out"] == ["sync", "tick", "micro"]
        mp.advance(60)
        assert mp.current_page.data["out"] == ["sync", "tick", "micro", "iv", "t50", "iv"]


def test_ui_prompts(make_project) -> None:
    with launch(make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": API_PAGE})) as mp:
        page = mp.current_page
        page.call_method("ui")
        assert mp.loading is None
        assert mp.toasts == [{"title": "Saved", "icon": "success", "image": None, "duration": 2000, "mask": False}]
        assert page.data["out"] == ["showModal:fail confirmText length should not larger than 4 Chinese characters"]
        modal = mp.modals[-1]
        modal.confirm("typed")
        mp.action_sheets[-1].cancel()
        mp.wait_idle()
        assert page.data["out"][1:] == [["modal", True, "typed"], "showActionSheet:fail cancel"]
