"""Lifetimes (order, legacy forms, moved, detached), pageLifetimes, behaviors and their merge rules."""

from __future__ import annotations

from minibox.testing import launch

LOG_BEHAVIOR = """
module.exports = function (name) {
  return {
    created() { getApp().globalData.log.push(name + ':created') },
    attached() { getApp().globalData.log.push(name + ':attached') },
    ready() { getApp().globalData.log.push(name + ':ready') },
    moved() { getApp().globalData.log.push(name + ':moved') },
    detached() { getApp().globalData.log.push(name + ':detached') },
  };
};
"""


def _log_project(make_project, page_wxml: str, page_js: str):
    return make_project({
        "app.js": "App({ globalData: { log: [] } })",
        "utils/log.js": LOG_BEHAVIOR,
        "pages/p/p.wxml": page_wxml, "pages/p/p.js": page_js,
        "pages/p/p.json": {"usingComponents": {"c-outer": "/comp/outer", "c-inner": "/comp/inner"}},
        # the outer one uses the `lifetimes` object; the inner one the legacy top-level form
        "comp/outer.js": """const log = require('../utils/log.js');
          Component({ properties: { name: String }, lifetimes: {
            created() { log('outer').created() },
            attached() { log('outer:' + this.data.name).attached() },
            ready() { log('outer:' + this.data.name).ready() },
            moved() { log('outer:' + this.data.name).moved() },
            detached() { log('outer:' + this.data.name).detached() },
          }, pageLifetimes: {
            show() { getApp().globalData.log.push('outer:' + this.data.name + ':show') },
            hide() { getApp().globalData.log.push('outer:' + this.data.name + ':hide') },
          } })""",
        "comp/outer.wxml": "<c-inner name='{{name}}-in'/><slot/>",
        "comp/outer.json": {"component": True, "usingComponents": {"c-inner": "/comp/inner"}},
        "comp/inner.js": """const log = require('../utils/log.js');
          Component({ properties: { name: String },
            attached() { log('inner:' + this.data.name).attached() },
            ready() { log('inner:' + this.data.name).ready() },
            detached() { log('inner:' + this.data.name).detached() },
            lifetimes: { attached() { log('inner-lifetimes:' + this.data.name).attached() } } })""",
        "comp/inner.wxml": "<view>{{name}}</view>",
        "comp/inner.json": {"component": True},
    })


def test_attach_order_is_tree_order(make_project) -> None:
    project = _log_project(make_project, "<c-outer name='a'><c-inner name='light'/></c-outer>",
                           "Page({ onReady() { getApp().globalData.log.push('page:onReady') } })")
    with launch(project) as mp:
        log = mp.app_data["log"]
        attached = [x for x in log if x.endswith(":attached")]
        # a component before its shadow tree, its shadow tree before its light children;
        # `lifetimes.attached` wins over the legacy top-level `attached`
        assert attached == ["outer:a:attached", "inner-lifetimes:a-in:attached", "inner-lifetimes:light:attached"]
        ready = [x for x in log if x.endswith(":ready") or x.endswith("onReady")]
        assert set(ready) == {"outer:a:ready", "inner:a-in:ready", "inner:light:ready", "page:onReady"}


def test_detach_children_first_and_page_lifetimes(make_project) -> None:
    project = _log_project(make_project, "<c-outer wx:if='{{on}}' name='a'><c-inner name='light'/></c-outer>",
                           "Page({ data: { on: true }, off() { this.setData({ on: false }) } })")
    with launch(project) as mp:
        mp.navigate_to("/pages/p/p")
        mp.navigate_back()
        log = mp.app_data["log"]
        assert "outer:a:hide" in log and log.index("outer:a:hide") < log.index("outer:a:show", log.index("outer:a:hide"))
        start = len(log)
        mp.current_page.call_method("off")
        detached = [x for x in mp.app_data["log"][start:] if x.endswith(":detached")]
        assert detached == ["inner:light:detached", "inner:a-in:detached", "outer:a:detached"]


def test_keyed_move_calls_moved(make_project) -> None:
    project = _log_project(make_project, "<c-outer wx:for='{{names}}' wx:key='*this' name='{{item}}'/>",
                           "Page({ data: { names: ['a', 'b', 'c'] }, swap() { this.setData({ names: ['c', 'a', 'b'] }) } })")
    with launch(project) as mp:
        start = len(mp.app_data["log"])
        mp.current_page.call_method("swap")
        log = mp.app_data["log"][start:]
        assert log == ["outer:c:moved"]
        assert [e.text for e in mp.current_page.query_selector_all("c-outer")] == ["c-in", "a-in", "b-in"]


BEHAVIORS = """
const base = Behavior({
  properties: { size: { type: Number, value: 1 } },
  data: { shared: { from: 'base', keep: 1 }, list: ['base'], baseOnly: 'b' },
  methods: { who() { return 'base' }, baseOnly() { return 'base-only' } },
  attached() { this.data.order.push('base') },
  observers: { size(v) { this.data.obs.push('base:' + v) } },
});
const mid = Behavior({
  behaviors: [base],
  data: { shared: { from: 'mid' }, list: ['mid'] },
  methods: { who() { return 'mid' } },
  attached() { this.data.order.push('mid') },
});
const other = Behavior({ attached() { this.data.order.push('other') } });
module.exports = { base, mid, other };
"""


def test_behavior_merge_rules(make_project) -> None:
    project = make_project({
        "behaviors/b.js": BEHAVIORS,
        "pages/p/p.wxml": "<c-b id='b' size='{{3}}'/>",
        "pages/p/p.json": {"usingComponents": {"c-b": "/comp/b"}},
        "comp/b.js": """const { base, mid, other } = require('../behaviors/b.js');
          Component({
            behaviors: [mid, other, base],
            data: { shared: { from: 'comp' }, order: [], obs: [] },
            observers: { size(v) { this.data.obs.push('comp:' + v) } },
            attached() { this.data.order.push('comp') },
            methods: { who() { return 'comp' },
              facts() { return { order: this.data.order, obs: this.data.obs, shared: this.data.shared,
                list: this.data.list, baseOnly: this.baseOnly(), who: this.who(), size: this.data.size,
                hasBase: this.hasBehavior(base), hasOther: this.hasBehavior(other) } } },
          })""",
        "comp/b.wxml": "<view>{{size}}</view>", "comp/b.json": {"component": True},
    })
    with launch(project) as mp:
        f = mp.current_page.query_selector("#b").call_method("facts")
        # lifetimes: behaviors first (depth-first, each once), then the component
        assert f["order"] == ["base", "mid", "other", "comp"]
        # observers of every level run, behaviors first
        assert f["obs"] == ["base:3", "comp:3"]
        # object data fields merge (the component wins on conflicts); others are replaced
        assert f["shared"] == {"from": "comp", "keep": 1}
        assert f["list"] == ["mid"]
        # methods: the component overrides behaviors; behaviors' own methods stay
        assert f["who"] == "comp" and f["baseOnly"] == "base-only"
        assert f["size"] == 3 and f["hasBase"] is True and f["hasOther"] is True


def test_builtin_behaviors_form_field_and_component_export(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-f id='f' name='amount' value='{{12}}'/><c-e id='e'/>",
        "pages/p/p.js": """Page({ look() { const f = this.selectComponent('#f'); const e = this.selectComponent('#e');
                 return { name: f.data.name, value: f.data.value, exported: e, all: this.selectAllComponents('#e') } } })""",
        "pages/p/p.json": {"usingComponents": {"c-f": "/comp/f", "c-e": "/comp/e"}},
        "comp/f.js": "Component({ behaviors: ['wx://form-field'] })",
        "comp/f.wxml": "<view>{{name}}={{value}}</view>", "comp/f.json": {"component": True},
        "comp/e.js": "Component({ behaviors: ['wx://component-export'], export() { return { api: 'v1' } } })",
        "comp/e.wxml": "<view/>", "comp/e.json": {"component": True},
    })
    with launch(project) as mp:
        r = mp.current_page.call_method("look")
        assert r["name"] == "amount" and r["value"] == 12
        assert r["exported"] == {"api": "v1"} and r["all"] == [{"api": "v1"}]
        assert mp.current_page.query_selector("#f").text == "amount=12"


def test_page_built_with_component(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<view>{{id}}:{{n}}</view>",
        "pages/p/p.js": """Component({ properties: { id: String, n: Number },
          methods: { onLoad(q) { this.setData({ loaded: q.id }) }, got() { return this.data.loaded } } })""",
    })
    with launch(project, query="id=7&n=3") as mp:
        assert mp.current_page.root.text == "7:3"
        assert mp.current_page.call_method("got") == "7"


def test_generics(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-list generic:item='c-row' items='{{[1, 2]}}'/><c-list items='{{[3]}}'/>",
        "pages/p/p.json": {"usingComponents": {"c-list": "/comp/list", "c-row": "/comp/row"}},
        "comp/list.js": "Component({ properties: { items: Array } })",
        "comp/list.wxml": "<item wx:for='{{items}}' v='{{item}}'/>",
        "comp/list.json": {"component": True, "componentGenerics": {"item": {"default": "/comp/plain"}}},
        "comp/row.js": "Component({ properties: { v: Number } })",
        "comp/row.wxml": "<view class='row'>row {{v}}</view>", "comp/row.json": {"component": True},
        "comp/plain.js": "Component({ properties: { v: Number } })",
        "comp/plain.wxml": "<view class='plain'>plain {{v}}</view>", "comp/plain.json": {"component": True},
    })
    with launch(project) as mp:
        assert [e.text for e in mp.current_page.query_selector_all(".row")] == ["row 1", "row 2"]
        assert [e.text for e in mp.current_page.query_selector_all(".plain")] == ["plain 3"]


def test_error_lifetime_hears_own_errors(make_project) -> None:
    project = make_project({
        "app.js": "App({ globalData: { errors: [] }, onError(m) { this.globalData.errors.push('app') } })",
        "pages/p/p.wxml": "<c-e id='e'/>", "pages/p/p.json": {"usingComponents": {"c-e": "/comp/e"}},
        "comp/e.js": """Component({ data: { seen: [] },
          lifetimes: { attached() { throw new Error('boom in attached') },
                       error(err) { getApp().globalData.errors.push('comp:' + err.message) } } })""",
        "comp/e.wxml": "<view/>", "comp/e.json": {"component": True},
    })
    with launch(project) as mp:
        errors = mp.app_data["errors"]
        assert "comp:boom in attached" in errors and "app" in errors
        assert mp.errors and "boom in attached" in mp.errors[0]["message"]


def test_page_lifetimes_resize(make_project) -> None:
    project = make_project({
        "app.js": "App({ globalData: { log: [] } })",
        "pages/p/p.wxml": "<c-r/>", "pages/p/p.json": {"usingComponents": {"c-r": "/comp/r"}},
        "comp/r.js": """Component({ pageLifetimes: { resize(size) { getApp().globalData.log.push(size.size.windowWidth) } } })""",
        "comp/r.wxml": "<view/>", "comp/r.json": {"component": True},
    })
    with launch(project) as mp:
        mp._page_event("resize", size={"size": {"windowWidth": 800, "windowHeight": 600}})
        assert mp.app_data["log"] == [800]


def test_form_submit_collects_form_field_components(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": """<form bindsubmit='onSubmit'><c-amount name='amount' value='{{12.5}}'/>
                             <input name='memo' value='rent'/><button form-type='submit' id='go'>Go</button></form>""",
        "pages/p/p.js": "Page({ onSubmit(e) { this.setData({ got: e.detail.value }) } })",
        "pages/p/p.json": {"usingComponents": {"c-amount": "/comp/amount"}},
        "comp/amount.js": "Component({ behaviors: ['wx://form-field'] })",
        "comp/amount.wxml": "<input name='inner' value='{{value}}'/>", "comp/amount.json": {"component": True},
    })
    with launch(project) as mp:
        mp.current_page.query_selector("#go").tap()
        # the component counts as one field under its own name; its inner input is not collected
        assert mp.current_page.data["got"] == {"amount": 12.5, "memo": "rent"}


def test_behavior_definition_filter(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-d id='d'/>", "pages/p/p.json": {"usingComponents": {"c-d": "/comp/d"}},
        "comp/d.js": """
          const inner = Behavior({ definitionFilter(def) { def.data = Object.assign({}, def.data, { inner: 'yes' }) } });
          const outer = Behavior({ behaviors: [inner],
            definitionFilter(def, filters) { filters[0](def); def.methods = def.methods || {}; def.methods.added = () => 'added' } });
          Component({ behaviors: [outer], data: { own: 1 },
            methods: { look() { return [this.data.inner, this.added(), this.data.own] } } })""",
        "comp/d.wxml": "<view/>", "comp/d.json": {"component": True},
    })
    with launch(project) as mp:
        assert mp.current_page.query_selector("#d").call_method("look") == ["yes", "added", 1]


def test_behavior_data_merges_deeply(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-m id='m'/>", "pages/p/p.json": {"usingComponents": {"c-m": "/comp/m"}},
        "comp/m.js": """
          const base = Behavior({ data: { obj: { k1: 1, deep: { x: 1 } }, a: [0, 1, { a1: { a2: false } }], b: [2, null], c: { 0: 3 } } });
          const a = Behavior({ behaviors: [base], data: { obj: { k2: 2, deep: { y: 2 } } } });
          const e = Behavior({ data: { a: { 1: -1, 2: { a1: { a3: true } }, 3: ['a', 'b'] }, b: [0], c: [0] } });
          Component({ behaviors: [a, e], data: { obj: { k3: 3 } }, methods: { d() { return this.data } } })""",
        "comp/m.wxml": "<view/>", "comp/m.json": {"component": True},
    })
    with launch(project) as mp:
        d = mp.current_page.query_selector("#m").call_method("d")
        assert d["obj"] == {"k1": 1, "k2": 2, "k3": 3, "deep": {"x": 1, "y": 2}}
        assert d["a"] == [0, -1, {"a1": {"a2": False, "a3": True}}, ["a", "b"]]
        assert d["b"] == [0] and d["c"] == [0]
