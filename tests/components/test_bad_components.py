"""Broken components fail alone and say where: the page and the other components keep working."""

from __future__ import annotations

from minibox.testing import launch


def _project(make_project, comp_js: str, comp_wxml: str = "<view class='in'>ok</view>", page_js: str = "Page({})"):
    return make_project({
        "pages/p/p.wxml": "<view class='before'>before</view><c-bad id='bad'/><c-good id='good'/>",
        "pages/p/p.js": page_js,
        "pages/p/p.json": {"usingComponents": {"c-bad": "/comp/bad", "c-good": "/comp/good"}},
        "comp/bad.js": comp_js, "comp/bad.wxml": comp_wxml, "comp/bad.json": {"component": True},
        "comp/good.js": "Component({})", "comp/good.wxml": "<view class='good'>good</view>",
        "comp/good.json": {"component": True},
    })


def test_throwing_lifetimes_and_observers_are_contained(make_project) -> None:
    project = _project(make_project, """Component({
      properties: { p: { type: String, observer() { throw new Error('observer failed') } } },
      observers: { '**'() { throw new Error('data observer failed') } },
      lifetimes: { created() { throw new Error('created failed') }, attached() { throw new Error('attached failed') } },
      methods: { boom() { this.setData({ x: 1 }) } },
    })""")
    with launch(project) as mp:
        messages = [e["message"] for e in mp.errors]
        assert "created failed" in messages and "attached failed" in messages
        assert mp.current_page.query_selector(".good").text == "good"
        assert mp.current_page.query_selector("#bad .in").text == "ok"
        mp.current_page.query_selector("#bad").call_method("boom")
        assert "data observer failed" in [e["message"] for e in mp.errors]


def test_module_without_component_call_names_the_file(make_project) -> None:
    project = _project(make_project, "module.exports = {}")
    with launch(project) as mp:
        assert any('"comp/bad.js" did not call Component() or Page()' in e["message"] for e in mp.errors)


def test_bad_observer_and_relation_names(make_project) -> None:
    project = _project(make_project, """Component({
      properties: { p: { type: Number, observer: 'noSuchMethod' } },
      methods: { rel() { return this.getRelationNodes('./nothing') }, sel() {
        return [this.selectComponent('#none'), this.selectAllComponents('.none').length] } },
    })""", page_js="Page({ data: { v: 1 } })")
    with launch(project) as mp:
        bad = mp.current_page.query_selector("#bad")
        assert bad.call_method("rel") == []
        assert bad.call_method("sel") == [None, 0]


def test_observer_name_that_is_not_a_method_warns(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-w n='{{3}}'/>", "pages/p/p.json": {"usingComponents": {"c-w": "/comp/w"}},
        "comp/w.js": "Component({ properties: { n: { type: Number, observer: 'missing' } } })",
        "comp/w.wxml": "<view>{{n}}</view>", "comp/w.json": {"component": True},
    })
    with launch(project) as mp:
        warns = [" ".join(log["args"]) for log in mp.logs if log["level"] == "warn"]
        assert any('property observer "missing" is not a method' in w and "comp/w" in w for w in warns)
        assert mp.current_page.root.text == "3"


def test_selector_query_refuses_overlong_selector(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<view id='a'/>",
        "pages/p/p.js": """Page({ q() { try { wx.createSelectorQuery().select('#' + 'a'.repeat(5000)).fields({ id: true })
                           .exec(() => {}); return 'queued' } catch (e) { return e.message } } })""",
    })
    with launch(project) as mp:
        assert mp.current_page.call_method("q") == "queued"
        assert any("selector is too long" in e["message"] for e in mp.errors)
