"""Globals WeChat's app service gives every module, which published libraries rely on."""

from __future__ import annotations

from pathlib import Path

from minibox.testing import launch

PAGE = """
global.shared = (global.shared || 0) + 1;
Page({ data: { t: [typeof global, typeof global.Math, global.shared, typeof globalThis.shared,
                  typeof global.btoa === 'function' ? global.btoa('hi') : 'none'].join(':') } })
"""


def test_global_is_a_shared_object_over_the_standard_globals(make_project) -> None:
    project: Path = make_project({"pages/p/p.wxml": "<view>{{t}}</view>", "pages/p/p.js": PAGE})
    with launch(project) as mp:
        t = mp.current_page.data["t"]
        assert not mp.errors
    kind, math, shared, leaked, b64 = t.split(":")
    assert (kind, math, shared, leaked) == ("object", "object", "1", "undefined")
    assert b64 in ("aGk=", "none")


CANVAS = """
Page({
  onReady() {
    const ctx = wx.createCanvasContext('c')
    ctx.setFillStyle('#f00'); ctx.fillRect(0, 0, 10, 10); ctx.beginPath(); ctx.arc(5, 5, 4, 0, 6.3)
    ctx.setStrokeStyle({ not: 'serialisable' }); ctx.stroke()
    const g = ctx.createLinearGradient(0, 0, 1, 1); g.addColorStop(0, 'red')
    this.setData({ w: ctx.measureText('abc').width > 0 })
    ctx.draw(false, () => this.setData({ drawn: true }))
  },
})
"""


def test_canvas_context_records_and_hands_the_drawing_to_the_view(make_project) -> None:
    project: Path = make_project({"pages/p/p.wxml": "<canvas canvas-id='c'/>", "pages/p/p.js": CANVAS})
    with launch(project) as mp:
        mp.wait_idle()
        assert mp.current_page.data == {"w": True, "drawn": True}
        [draw] = [m for m in mp.view.view_calls if m.get("api") == "canvasDraw"]
        assert draw["canvasId"] == "c"
        assert not mp.errors


REJECTING = """
App({ rejections: [], onUnhandledRejection(r) { this.rejections.push(String(r.reason && r.reason.message)) } })
"""
REJECTING_PAGE = """
Page({
  data: { seen: [] },
  async onLoad() {
    wx.onUnhandledRejection((r) => this.setData({ seen: this.data.seen.concat(['wx:' + r.reason.message]) }))
    await null
    throw new Error('async onLoad failed')
  },
  async tap() { throw new Error('async tap failed') },
  caught() { return Promise.reject(new Error('handled')).catch(() => 'fine') },
  report() { return getApp().rejections },
})
"""


def test_unhandled_rejections_of_async_lifecycles_and_handlers(make_project) -> None:
    project: Path = make_project({"app.js": REJECTING, "pages/p/p.wxml": "<view id='b' bindtap='tap'>b</view>",
                                  "pages/p/p.js": REJECTING_PAGE})
    with launch(project) as mp:
        page = mp.current_page
        page.query_selector("#b").tap()
        page.call_method("caught")
        mp.wait_idle()
        rejections = [e for e in mp.errors if e.get("kind") == "rejection"]
        assert [e["message"] for e in rejections] == ["Unhandled promise rejection: async onLoad failed",
                                                      "Unhandled promise rejection: async tap failed"]
        assert "pages/p/p.js:" in rejections[0]["stack"]
        assert page.call_method("report") == ["async onLoad failed", "async tap failed"]
        assert page.data["seen"] == ["wx:async onLoad failed", "wx:async tap failed"]
