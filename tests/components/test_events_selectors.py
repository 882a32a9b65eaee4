"""triggerEvent (bubbles, composed, capturePhase), selectComponent, createSelectorQuery, re-render scope."""

from __future__ import annotations

from minibox.testing import launch

EVENT_FILES = {
    "app.js": "App({ globalData: { log: [] } })",
    "comp/inner.js": """Component({ methods: {
        fire(opts) { this.triggerEvent('ping', { n: 1 }, opts) },
        onInnerPing(e) { getApp().globalData.log.push('inner-tpl:' + e.target.id + '>' + e.currentTarget.id) },
      } })""",
    "comp/inner.wxml": "<view id='iv'>i</view>", "comp/inner.json": {"component": True},
    "comp/outer.js": """Component({ methods: {
        onPing(e) { getApp().globalData.log.push('outer-tpl:' + JSON.stringify(e.detail) + ':' + e.target.id + '>' + e.currentTarget.id) },
        onCap(e) { getApp().globalData.log.push('outer-capture') },
      } })""",
    "comp/outer.wxml": """<view id='ow' bindping='onPing' capture-bind:ping='onCap'><c-inner id='in' bind:ping='onPing'/></view>""",
    "comp/outer.json": {"component": True, "usingComponents": {"c-inner": "/comp/inner"}},
    "pages/p/p.wxml": """<view id='pw' bindping='onPagePing' capture-bind:ping='onPageCap'><c-outer id='out' bindping='onPagePing'/></view>""",
    "pages/p/p.js": """Page({
      onPagePing(e) { getApp().globalData.log.push('page:' + e.type + ':' + e.target.id + '>' + e.currentTarget.id + ':' + JSON.stringify(e.detail)) },
      onPageCap(e) { getApp().globalData.log.push('page-capture') },
    })""",
    "pages/p/p.json": {"usingComponents": {"c-outer": "/comp/outer"}},
}


def _fire(mp, opts):
    start = len(mp.app_data["log"])
    inner = mp.current_page.query_selector("#in")
    inner.call_method("fire", opts)
    return mp.app_data["log"][start:]


def test_trigger_event_flags(make_project) -> None:
    project = make_project(EVENT_FILES)
    with launch(project) as mp:
        # default: only listeners on the host itself
        assert _fire(mp, {}) == ['outer-tpl:{"n":1}:in>in']
        # bubbles: up through the outer template, not past its shadow root
        assert _fire(mp, {"bubbles": True}) == ['outer-tpl:{"n":1}:in>in', 'outer-tpl:{"n":1}:in>ow']
        # composed too: on into the page, the target retargeted to the outer host
        assert _fire(mp, {"bubbles": True, "composed": True}) == [
            'outer-tpl:{"n":1}:in>in', 'outer-tpl:{"n":1}:in>ow',
            'page:ping:out>out:{"n":1}', 'page:ping:out>pw:{"n":1}']
        # capturePhase: capture listeners run first, outermost first
        log = _fire(mp, {"bubbles": True, "composed": True, "capturePhase": True})
        assert log[:2] == ["page-capture", "outer-capture"] and len(log) == 6


def test_select_component_scopes(make_project) -> None:
    project = make_project({
        **EVENT_FILES,
        "pages/p/p.js": """Page({ look() {
          const out = this.selectComponent('#out');
          return { out: out && out.is, deep: this.selectComponent('#in'), inOuter: out.selectComponent('#in').is,
                   all: this.selectAllComponents('c-outer, .none').length, owner: out.selectComponent('#in').selectOwnerComponent().is }
        } })""",
    })
    with launch(project) as mp:
        r = mp.current_page.call_method("look")
        # selectors see only the caller's own template
        assert r == {"out": "comp/outer", "deep": None, "inOuter": "comp/inner", "all": 1, "owner": "comp/outer"}


def test_create_selector_query(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": """<view id='a' class='box' data-k='v' style='color: red'>A</view><view class='box'>B</view>
                             <c-q id='q'/>""",
        "pages/p/p.js": """Page({ data: {}, onReady() {
          wx.createSelectorQuery().select('#a').boundingClientRect().selectAll('.box').fields({ id: true, dataset: true,
            computedStyle: ['color'] }).select('#missing').boundingClientRect().select('.inner').fields({ id: true })
            .selectViewport().scrollOffset()
            .exec(res => this.setData({ res }));
          this.selectComponent('#q').probe();
        } })""",
        "pages/p/p.json": {"usingComponents": {"c-q": "/comp/q"}},
        "comp/q.js": """Component({ properties: { p: { type: Number, value: 5 } }, methods: { probe() {
          this.createSelectorQuery().select('.inner').fields({ id: true, properties: ['p'] }).exec(r => this.setData({ inner: r[0] }));
          this.createSelectorQuery().select('#q').fields({ id: true }).exec(r => this.setData({ self: r[0] }));
        } } })""",
        "comp/q.wxml": "<view class='inner' id='qi'>q</view>", "comp/q.json": {"component": True},
    })
    with launch(project) as mp:
        res = mp.current_page.data["res"]
        assert res[0] == {"id": "a", "dataset": {"k": "v"}, "left": 0, "right": 0, "top": 0, "bottom": 0,
                          "width": 0, "height": 0}
        assert res[1] == [{"id": "a", "dataset": {"k": "v"}, "color": "red"}, {"id": "", "dataset": {}, "color": ""}]
        assert res[2] is None
        assert res[3] is None  # nodes inside a component are not in the page's scope
        assert res[4]["scrollTop"] == 0
        # a component's own query answers from its template only (its host belongs to the page)
        q = mp.current_page.query_selector("#q").data
        assert q["inner"] == {"id": "qi"}
        assert q["self"] is None


def test_component_setdata_renders_only_that_component(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<view wx:for='{{rows}}' wx:key='*this'>{{item}}</view><c-n id='n'/>",
        "pages/p/p.js": "Page({ data: { rows: [1, 2, 3, 4, 5, 6, 7, 8] }, renders: 0 })",
        "pages/p/p.json": {"usingComponents": {"c-n": "/comp/n"}},
        "comp/n.js": "Component({ data: { n: 0 }, methods: { inc() { this.setData({ n: this.data.n + 1 }) } } })",
        "comp/n.wxml": "<view class='n'>{{n}}</view>", "comp/n.json": {"component": True},
    })
    with launch(project) as mp:
        before = mp.view.op_count
        mp.current_page.query_selector("#n").call_method("inc")
        assert mp.current_page.query_selector(".n").text == "1"
        assert mp.view.op_count - before == 1  # one text op: nothing of the page is re-sent


def test_select_component_selectors(make_project) -> None:
    project = make_project({
        **EVENT_FILES,
        "pages/p/p.wxml": """<view class='wrap'><c-outer id='out' class='o'/></view><c-outer id='out2'/>""",
        "pages/p/p.js": """Page({ look() {
          const ids = (list) => list.map(c => c.id);
          return { desc: this.selectComponent('.wrap c-outer').id, child: this.selectComponent('.wrap > .o').id,
                   pierce: this.selectComponent('#out >>> #in').id, all: ids(this.selectAllComponents('c-outer')),
                   none: this.selectComponent('.wrap #out2') }
        } })""",
    })
    with launch(project) as mp:
        r = mp.current_page.call_method("look")
        assert r == {"desc": "out", "child": "out", "pierce": "in", "all": ["out", "out2"], "none": None}


def test_intersection_observer_api(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<view class='item'>a</view><view class='item'>b</view>",
        "pages/p/p.js": """Page({ data: { calls: 0 }, onReady() {
          const out = [];
          const early = wx.createIntersectionObserver(this);
          try { early.observe('.item', () => {}) } catch (e) { out.push(e.message) }
          const io = this.createIntersectionObserver({ observeAll: true, thresholds: [0, 1] });
          io.relativeToViewport({ bottom: 10 }).observe('.item', () => this.setData({ calls: this.data.calls + 1 }));
          io.disconnect();
          this.setData({ out });
        } })""",
    })
    with launch(project) as mp:
        mp.advance(1000)
        assert mp.current_page.data["out"] == ["relativeTo or relativeToViewport must be called before observe"]
        assert mp.current_page.data["calls"] == 0  # no layout headless: nothing intersects
