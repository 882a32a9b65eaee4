"""The keyed diff: patches proportional to the change, correct moves, component-level re-render."""

from __future__ import annotations

import json

from minibox.testing import launch

LIST_PAGE = {
    "pages/p/p.wxml": '<view class="list"><view wx:for="{{list}}" wx:key="id" class="row">{{item.name}}</view></view>',
    "pages/p/p.js": """Page({
      data: { list: [] },
      onLoad() { const l = []; for (let i = 0; i < 1000; i++) l.push({ id: i, name: 'row ' + i }); this.setData({ list: l }) },
      rename() { this.setData({ 'list[500].name': 'changed' }) },
      reverse() { this.setData({ list: this.data.list.slice().reverse() }) },
      moveLastToFront() { const l = this.data.list.slice(); l.unshift(l.pop()); this.setData({ list: l }) },
      dropFirst() { this.setData({ list: this.data.list.slice(1) }) },
    })""",
}


def ops_of(mp, action: str) -> list:
    captured: list = []
    mp.instance.listeners.append(lambda m: captured.extend(m["ops"]) if m.get("t") == "patch" else None)
    mp.current_page.call_method(action)
    mp.instance.listeners.clear()
    return captured


def rows(mp) -> list[str]:
    return [e.text for e in mp.current_page.query_selector_all(".row")]


def test_one_row_update_patches_one_row(make_project) -> None:
    with launch(make_project(LIST_PAGE)) as mp:
        assert len(rows(mp)) == 1000
        ops = ops_of(mp, "rename")
        assert ops == [["text", ops[0][1], "changed"]]
        assert len(json.dumps(ops)) < 100
        assert rows(mp)[500] == "changed"


def test_reorders_are_moves_not_recreations(make_project) -> None:
    with launch(make_project(LIST_PAGE)) as mp:
        ops = ops_of(mp, "moveLastToFront")
        assert [o[0] for o in ops] == ["insert"]  # one move
        assert rows(mp)[:2] == ["row 999", "row 0"]
        ops = ops_of(mp, "reverse")
        assert {o[0] for o in ops} == {"insert"} and len(ops) < 1000
        assert rows(mp)[:3] == ["row 998", "row 997", "row 996"] and rows(mp)[-1] == "row 999"
        ops = ops_of(mp, "dropFirst")
        assert [o[0] for o in ops] == ["remove"]


def test_component_setdata_rerenders_only_the_component(make_project) -> None:
    project = make_project({
        "components/counter/counter.json": {"component": True},
        "components/counter/counter.wxml": '<view class="n" bindtap="inc">{{n}}</view>',
        "components/counter/counter.js": "Component({ data: {n: 0}, methods: { inc() { this.setData({n: this.data.n + 1}) } } })",
        "pages/p/p.json": {"usingComponents": {"counter": "/components/counter/counter"}},
        "pages/p/p.wxml": '<view wx:for="{{rows}}" wx:key="*this" class="row">{{item}}</view><counter id="c"/>',
        "pages/p/p.js": "Page({ data: { rows: ['a', 'b', 'c'] } })",
    })
    with launch(project) as mp:
        page = mp.current_page
        captured: list = []
        mp.instance.listeners.append(lambda m: captured.extend(m["ops"]) if m.get("t") == "patch" else None)
        page.query_selector("#c .n").tap()
        assert page.query_selector("#c .n").text == "1"
        assert captured == [["text", captured[0][1], "1"]]


def test_wx_if_and_hidden_toggle(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": '<view wx:if="{{show}}" class="a">A</view><view wx:else class="b">B</view>'
                          '<view class="h" hidden="{{!show}}">H</view>',
        "pages/p/p.js": "Page({ data: { show: true }, flip() { this.setData({ show: !this.data.show }) } })",
    })
    with launch(project) as mp:
        page = mp.current_page
        assert page.query_selector(".a") and not page.query_selector(".b")
        assert "hidden" not in page.query_selector(".h").attrs or page.query_selector(".h").attr("hidden") is False
        page.call_method("flip")
        assert page.query_selector(".b") and not page.query_selector(".a")
        assert page.query_selector(".h").attr("hidden") is True
