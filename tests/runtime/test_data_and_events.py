"""setData semantics and limits, and event dispatch (bubble, catch, capture, mut-bind)."""

from __future__ import annotations

from minibox.testing import launch

SETDATA_PAGE = """
Page({
  data: { list: [{name: 'a'}, {name: 'b'}], obj: {x: 1}, log: [] },
  paths() { this.setData({ 'list[1].name': 'B', 'obj.y.z': 2, 'fresh[2]': 'c', 'a\\\\.b': 1 }) },
  copy() { const o = {v: 1}; this.setData({ held: o }); o.v = 2; return this.data.held.v },
  big() { try { this.setData({ s: 'x'.repeat(1100 * 1024) }); return 'no error' } catch (e) { return e.message } },
  proto() {
    const out = [];
    for (const k of ['__proto__.polluted', 'a.constructor.prototype.polluted', 'list[0].__proto__']) {
      try { this.setData({ [k]: 1 }) ; out.push('accepted ' + k) } catch (e) { out.push(e.message) }
    }
    out.push(String(({}).polluted));
    return out;
  },
  undef() { this.setData({ u: undefined, d: 1 }) },
  withCallback() {
    this.setData({ n: 1 }, () => { this.setData({ log: this.data.log.concat('cb n=' + this.data.n) }) });
    this.setData({ log: this.data.log.concat('sync') });
  },
})
"""


def test_setdata_paths(make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view>{{list[1].name}} {{obj.y.z}}</view>", "pages/p/p.js": SETDATA_PAGE})
    with launch(project) as mp:
        page = mp.current_page
        page.call_method("paths")
        d = page.data
        assert d["list"] == [{"name": "a"}, {"name": "B"}]
        assert d["obj"] == {"x": 1, "y": {"z": 2}}
        assert d["fresh"] == [None, None, "c"]
        assert d["a.b"] == 1
        assert page.root.text == "B 2"


def test_setdata_copies_values(make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": SETDATA_PAGE})
    with launch(project) as mp:
        assert mp.current_page.call_method("copy") == 1


def test_setdata_over_1mb_is_refused(make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view>{{s}}</view>", "pages/p/p.js": SETDATA_PAGE})
    with launch(project) as mp:
        message = mp.current_page.call_method("big")
        assert message.startswith("Exceed max data size")
        assert "1024KB" in message
        assert "s" not in mp.current_page.data


def test_setdata_refuses_prototype_pollution(make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": SETDATA_PAGE})
    with launch(project) as mp:
        out = mp.current_page.call_method("proto")
        assert out[:3] == [
            'setData: data path "__proto__.polluted" uses the forbidden key "__proto__"',
            'setData: data path "a.constructor.prototype.polluted" uses the forbidden key "constructor"',
            'setData: data path "list[0].__proto__" uses the forbidden key "__proto__"',
        ]
        assert out[3] == "undefined"


def test_setdata_undefined_is_ignored_with_warning(make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": SETDATA_PAGE})
    with launch(project) as mp:
        mp.current_page.call_method("undef")
        assert "u" not in mp.current_page.data and mp.current_page.data["d"] == 1
        assert any('Setting data field "u" to undefined is invalid.' in e["args"][0] for e in mp.logs)


def test_setdata_callback_runs_after_the_view_has_the_change(make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view>{{n}}</view>", "pages/p/p.js": SETDATA_PAGE})
    with launch(project) as mp:
        mp.current_page.call_method("withCallback")
        assert mp.current_page.data["log"] == ["sync", "cb n=1"]


EVENTS_WXML = """
<view id="outer" data-level="outer" mark:from="outer" bindtap="h" capture-bind:tap="h">
  <view id="middle" data-level="middle" bindtap="h" mut-bind:tap="h">
    <view id="inner" data-user-name="Ann" mark:leaf="yes" bindtap="h" mut-bind:tap="h">inner</view>
  </view>
  <view id="stopper" catchtap="h"><view id="deep" bind:tap="h">deep</view></view>
  <view id="capcatch" capture-catch:tap="h"><view id="never" bindtap="h">x</view></view>
</view>
"""
EVENTS_JS = """
Page({
  data: { calls: [] },
  h(e) {
    this.data.calls.push([e.type, e.currentTarget.id, e.target.id, e.mut ? 'mut' : '', JSON.stringify(e.mark),
                          JSON.stringify(e.currentTarget.dataset)]);
  },
  take() { const c = this.data.calls; this.data.calls = []; return c },
})
"""


def test_bubbling_capture_and_mut_bind(make_project) -> None:
    project = make_project({"pages/p/p.wxml": EVENTS_WXML, "pages/p/p.js": EVENTS_JS})
    with launch(project) as mp:
        page = mp.current_page
        page.query_selector("#inner").trigger("tap", {"x": 1, "y": 2})
        calls = page.call_method("take")
        mark = '{"from":"outer","leaf":"yes"}'
        assert calls == [
            ["tap", "outer", "inner", "", mark, '{"level":"outer"}'],       # capture phase first
            ["tap", "inner", "inner", "", mark, '{"userName":"Ann"}'],
            ["tap", "inner", "inner", "mut", mark, '{"userName":"Ann"}'],
            ["tap", "middle", "inner", "", mark, '{"level":"middle"}'],      # second mut-bind skipped
            ["tap", "outer", "inner", "", mark, '{"level":"outer"}'],
        ]


def test_catch_and_capture_catch_stop_propagation(make_project) -> None:
    project = make_project({"pages/p/p.wxml": EVENTS_WXML, "pages/p/p.js": EVENTS_JS})
    with launch(project) as mp:
        page = mp.current_page
        page.query_selector("#deep").trigger("tap")
        assert [c[1] for c in page.call_method("take")] == ["outer", "deep", "stopper"]
        page.query_selector("#never").trigger("tap")
        assert [c[1] for c in page.call_method("take")] == ["outer", "capcatch"]


def test_non_bubbling_events_stay_on_target(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": '<view bindinput="h" id="wrap"><input id="field" bindinput="h" /></view>',
        "pages/p/p.js": EVENTS_JS,
    })
    with launch(project) as mp:
        page = mp.current_page
        page.query_selector("#field").input("hi")
        assert [c[1] for c in page.call_method("take")] == ["field"]


def test_bindinput_return_value_replaces_input(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": '<input id="f" bindinput="upper" />',
        "pages/p/p.js": "Page({ upper(e) { return e.detail.value.toUpperCase() } })",
    })
    with launch(project) as mp:
        field = mp.current_page.query_selector("#f")
        field.input("abc")
        assert field.value == "ABC"


def test_missing_handler_warns_and_the_app_keeps_running(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": '<view id="a" bindtap="nothing">x</view><view id="b" bindtap="boom">y</view>',
        "pages/p/p.js": "Page({ boom() { throw new Error('kaboom') } })",
        "app.js": "App({ globalData: {e: []}, onError(m) { this.globalData.e.push(m.split('\\n')[0]) } })",
    })
    with launch(project) as mp:
        page = mp.current_page
        page.query_selector("#a").tap()
        assert any('does not have a method "nothing" to handle event "tap"' in log["args"][0] for log in mp.logs)
        page.query_selector("#b").tap()
        assert mp.app_data["e"] == ["kaboom"]
        assert mp.errors[-1]["message"] == "kaboom"
        page.query_selector("#a").tap()  # still alive


def test_model_two_way_binding_on_built_ins(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": '<input id="name" model:value="{{form.name}}" /><view class="echo">{{form.name}}</view>'
                          '<switch id="sw" model:checked="{{on}}" />',
        "pages/p/p.js": "Page({ data: { form: { name: 'a' }, on: false } })",
    })
    with launch(project) as mp:
        page = mp.current_page
        assert page.query_selector("#name").value == "a"
        page.query_selector("#name").input("Zhang San")
        assert page.data["form"] == {"name": "Zhang San"}
        assert page.query_selector(".echo").text == "Zhang San"
        page.query_selector("#sw").trigger("change", {"value": True})
        assert page.data["on"] is True
