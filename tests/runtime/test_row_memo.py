"""Path-level updates (issue 13): a setData path re-renders only the wx:for rows it touched.

The compiled loop memoises each row by its item (render_runtime.js `$ML`), the diff skips the rows
whose vnodes were reused (02_vdom.js). These tests check what the view gets (patch sizes that do not
grow with the list, untouched rows keeping their nodes) and that every case the memo cannot prove
safe still renders what a full render gives. Nothing here is timed.
"""

from __future__ import annotations

import json

import pytest

from minibox.testing import launch

ROW = ('<view wx:for="{{list}}" wx:key="id" class="row" data-id="{{item.id}}">'
       '<text class="name">{{item.name}}</text><text class="n">{{index}}</text></view>')

LIST_JS = """Page({
  data: { list: [], sel: 'a', tags: ['p', 'q', 'r'] },
  fill(n) { const l = []; for (let i = 0; i < n; i++) l.push({ id: i, name: 'row ' + i, info: { tag: 't' + i } }); this.setData({ list: l }) },
  rename(i, v) { this.setData({ ['list[' + i + '].name']: v }) },
  retag(i, v) { this.setData({ ['list[' + i + '].info.tag']: v }) },
  append(v) { this.setData({ ['list[' + this.data.list.length + ']']: { id: 'new', name: v, info: { tag: 'n' } } }) },
  replaceRow(i, v) { this.setData({ ['list[' + i + ']']: { id: 'r' + i, name: v, info: { tag: 'r' } } }) },
  select(v) { this.setData({ sel: v }) },
  mutateThenSet(i, v) { this.data.list[i].name = v; this.setData({ ['list[' + i + ']']: this.data.list[i] }) },
  replaceAll(v) { this.setData({ list: this.data.list.map((r, i) => Object.assign({}, r, { name: v + i })) }) },
  nothing() { this.setData({ other: 1 }) },
  swap(i, j) { const l = this.data.list; this.setData({ ['list[' + i + ']']: l[j], ['list[' + j + ']']: l[i] }) },
  renameTwo(i, j, v) { this.setData({ ['list[' + i + '].name']: v, ['list[' + j + '].name']: v + '2' }) },
  renameAndSelect(i, v, s) { this.setData({ ['list[' + i + '].name']: v, sel: s }) },
  fillNested(n) { const l = []; for (let i = 0; i < n; i++) l.push({ id: i, name: 'row ' + i, sub: ['a' + i, 'b' + i] }); this.setData({ list: l }) },
  setSub(i, j, v) { this.setData({ ['list[' + i + '].sub[' + j + ']']: v }) },
  pushSub(i, v) { this.setData({ ['list[' + i + '].sub[' + this.data.list[i].sub.length + ']']: v }) },
  setTag(i, v) { this.setData({ ['tags[' + i + ']']: v }) },
  rekey(i, k) { this.setData({ ['list[' + i + '].id']: k }) },
})"""


def page(wxml: str, js: str = LIST_JS, **extra: object) -> dict[str, object]:
    return {"pages/p/p.wxml": wxml, "pages/p/p.js": js, **extra}


def ops_of(mp, method: str, *args: object) -> list:
    captured: list = []
    mp.instance.listeners.append(lambda m: captured.extend(m["ops"]) if m.get("t") == "patch" else None)
    try:
        mp.current_page.call_method(method, *args)
    finally:
        mp.instance.listeners.clear()
    return captured


def created(ops: list) -> int:
    """Elements the ops create: one per "create" op, one per element spec of a "tree" op."""
    def count(spec: list) -> int:
        if isinstance(spec, str) or (len(spec) == 2 and isinstance(spec[0], int)):
            return 0  # a text node
        return 1 + sum(count(k) for k in spec[4 if isinstance(spec[0], int) else 3:])
    return sum(1 if o[0] == "create" else sum(count(s) for s in o[3:]) if o[0] == "tree" else 0 for o in ops)


def texts(mp, selector: str) -> list[str]:
    return [e.text for e in mp.current_page.query_selector_all(selector)]


def node_ids(mp, selector: str) -> list[int]:
    return [e.node.id for e in mp.current_page.query_selector_all(selector)]


def full_render(make_project, wxml: str, js: str, steps: list[tuple], **extra: object) -> str:
    """The page's WXML after `steps`, rendered afresh (a new instance that gets the final data at once)."""
    with launch(make_project(page(wxml, js, **extra))) as mp:
        for method, *args in steps:
            mp.current_page.call_method(method, *args)
        data = mp.current_page.data
    fresh_js = "Page({ data: %s })" % json.dumps(data)
    with launch(make_project(page(wxml, fresh_js, **extra))) as mp:
        return mp.current_page.root.wxml


@pytest.mark.parametrize("rows", [100, 1000])
def test_one_row_update_costs_one_row_whatever_the_list(make_project, rows: int) -> None:
    with launch(make_project(page(f'<view class="list">{ROW}</view>'))) as mp:
        mp.current_page.call_method("fill", rows)
        ops = ops_of(mp, "rename", rows // 2, "changed")
        assert [o[0] for o in ops] == ["text"] and ops[0][2] == "changed"
        assert len(json.dumps(ops)) < 60  # the same few bytes for 100 rows as for 1,000
        ops = ops_of(mp, "retag", rows // 3, "x")  # a field no node shows: nothing to send
        assert ops == []
        assert texts(mp, ".name")[rows // 2] == "changed"


def test_untouched_rows_keep_their_nodes(make_project) -> None:
    with launch(make_project(page(f'<view class="list">{ROW}</view>'))) as mp:
        mp.current_page.call_method("fill", 300)
        before = node_ids(mp, ".row")
        names_before = node_ids(mp, ".name")
        mp.current_page.call_method("rename", 150, "changed")
        mp.current_page.call_method("rename", 7, "again")
        assert node_ids(mp, ".row") == before
        assert node_ids(mp, ".name") == names_before  # the changed rows too: their text is patched
        assert texts(mp, ".name")[150] == "changed" and texts(mp, ".name")[7] == "again"
        assert texts(mp, ".name")[151] == "row 151"
        ops = ops_of(mp, "replaceRow", 20, "fresh")  # a new key: that row alone is replaced
        assert "remove" in {o[0] for o in ops}
        assert created(ops) == 3  # the row and its two <text>s
        ids = node_ids(mp, ".row")
        assert ids[:20] == before[:20] and ids[21:] == before[21:] and ids[20] != before[20]


def test_appending_through_a_path_adds_one_row(make_project) -> None:
    with launch(make_project(page(f'<view class="list">{ROW}<view class="end"/></view>'))) as mp:
        mp.current_page.call_method("fill", 50)
        before = node_ids(mp, ".row")
        ops = ops_of(mp, "append", "last")
        assert created(ops) == 3
        assert node_ids(mp, ".row")[:50] == before
        assert texts(mp, ".name")[-1] == "last" and texts(mp, ".n")[-1] == "50"
        assert mp.current_page.query_selector(".list").children[-1].classes == ["end"]


# Each case renders, after the steps, exactly what a fresh render of the final data gives.
CASES = {
    # rows that read other data: a change to it re-renders every row
    "reads other data": ('<view class="list"><view wx:for="{{list}}" wx:key="id" class="row '
                         '{{item.name === sel ? \'on\' : \'\'}}">{{item.name}} {{sel}}</view></view>',
                         [("fill", 20), ("rename", 3, "a"), ("select", "a"), ("rename", 4, "a"), ("select", "row 5")]),
    # a WXS call in a row: never memoised
    "wxs": ('<wxs module="u">var n = 0; module.exports.f = function (x) { n++; return x + ":" + n; };</wxs>'
            '<view class="list"><view wx:for="{{list}}" wx:key="id" class="row">{{u.f(item.name)}}</view></view>',
            [("fill", 10), ("rename", 3, "x"), ("nothing",)]),
    # an inner loop over data the outer row does not own, and one over the item's own field
    "nested loops": ('<view class="list"><view wx:for="{{list}}" wx:key="id" class="row">'
                     '<text wx:for="{{[sel, item.name]}}" wx:for-item="s" wx:key="*this">{{s}}/{{item.id}}</text>'
                     '<text wx:for="{{list}}" wx:for-item="o" wx:if="{{o.id < 2}}">{{o.name}}</text></view></view>',
                     [("fill", 5), ("rename", 1, "one"), ("select", "b"), ("rename", 3, "three")]),
    "deep path": ('<view class="list"><view wx:for="{{list}}" wx:key="id" class="row">{{item.info.tag}}</view></view>',
                  [("fill", 10), ("retag", 4, "deep"), ("retag", 9, "deeper")]),
    "mutate then set": (f'<view class="list">{ROW}</view>', [("fill", 10), ("mutateThenSet", 2, "m")]),
    "replace all": (f'<view class="list">{ROW}</view>', [("fill", 10), ("rename", 1, "x"), ("replaceAll", "y")]),
    "wx:if on the row": ('<view class="list"><view wx:for="{{list}}" wx:key="id" wx:if="{{item.name !== sel}}" '
                         'class="row">{{item.name}}</view></view>',
                         [("fill", 10), ("rename", 2, "a"), ("rename", 3, "z"), ("select", "z"), ("rename", 2, "b")]),
    "block rows": ('<view class="list"><block wx:for="{{list}}" wx:key="id"><view class="row">{{item.name}}</view>'
                   '<text>{{index}}</text></block></view>', [("fill", 10), ("rename", 5, "b"), ("append", "c")]),
    "two loops, one parent": (f'<view class="list">{ROW}{ROW}</view>', [("fill", 12), ("rename", 6, "t")]),
    "loop at the top": (ROW, [("fill", 12), ("rename", 6, "t"), ("append", "u")]),
    "template in the row": ('<template name="t"><text>{{n}}</text></template><view class="list">'
                            '<view wx:for="{{list}}" wx:key="id" class="row"><template is="t" data="{{n: item.name}}"/>'
                            '</view></view>', [("fill", 6), ("rename", 2, "tt")]),
    "swap through paths": (f'<view class="list">{ROW}</view>', [("fill", 30), ("swap", 3, 20), ("rename", 3, "s")]),
    "path grows the list": (f'<view class="list">{ROW}</view>', [("fill", 4), ("rename", 6, "far")]),
    # the loop that is all its element holds: its rows array is kept and changed in place
    "touched row changes its key": (f'<view class="list">{ROW}</view>',
                                    [("fill", 30), ("rename", 4, "a"), ("rekey", 4, "k4"), ("rename", 4, "b"),
                                     ("replaceRow", 9, "r"), ("rename", 10, "c"), ("rekey", 10, 3)]),
    "two rows touched": (f'<view class="list">{ROW}</view>',
                         [("fill", 30), ("renameTwo", 2, 27, "t"), ("renameTwo", 27, 2, "u"), ("rename", 5, "v")]),
    "path into a nested list": ('<view class="list"><view wx:for="{{list}}" wx:key="id" class="row">'
                                '<view class="subs"><text wx:for="{{item.sub}}" wx:for-item="s">{{s}}</text></view>'
                                '</view></view>',
                                [("fillNested", 20), ("setSub", 3, 1, "x"), ("pushSub", 7, "y"), ("setSub", 3, 0, "z"),
                                 ("rename", 3, "n")]),
    "row reads data set with it": ('<view class="list"><view wx:for="{{list}}" wx:key="id" class="row '
                                   '{{item.name === sel ? \'on\' : \'\'}}">{{item.name}} {{sel}}</view></view>',
                                   [("fill", 20), ("renameAndSelect", 3, "a", "a"), ("renameAndSelect", 4, "b", "a"),
                                    ("rename", 5, "a"), ("renameAndSelect", 3, "c", "c")]),
    "hidden parent": ('<view class="list" hidden="{{sel === \'h\'}}">' + ROW + '</view>',
                      [("fill", 20), ("rename", 3, "a"), ("select", "h"), ("rename", 4, "b"), ("select", "x"),
                       ("rename", 4, "c")]),
    "rows between other children": (f'<view class="list"><text>head</text>{ROW}<text>tail</text></view>',
                                    [("fill", 20), ("rename", 3, "a"), ("renameTwo", 3, 4, "b"), ("append", "z")]),
    # memoised rows that each hold a memoised loop over top-level data, all their element holds
    "loop in memoised rows": ('<view class="list"><view wx:for="{{list}}" wx:key="id" class="row"><text>{{item.name}}'
                              '</text><view class="tags"><text wx:for="{{tags}}">{{item}}</text></view></view></view>',
                              [("fill", 12), ("rename", 5, "a"), ("setTag", 1, "z"), ("rename", 7, "b"),
                               ("setTag", 0, "y"), ("rename", 5, "c"), ("renameTwo", 0, 11, "d"), ("setTag", 2, "x")]),
    "grow then touch": (f'<view class="list">{ROW}</view>',
                        [("fill", 12), ("append", "x"), ("rename", 12, "y"), ("rename", 1, "z"), ("replaceAll", "w"),
                         ("rename", 0, "v")]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_memoised_rows_render_what_a_full_render_gives(make_project, name: str) -> None:
    wxml, steps = CASES[name]
    with launch(make_project(page(wxml))) as mp:
        for method, *args in steps:
            mp.current_page.call_method(method, *args)
        after_updates = mp.current_page.root.wxml
        assert not mp.errors, mp.errors[:1]
    if name == "wxs":  # a WXS module's own state is no data: compare what a row shows without it
        assert "row 3" not in after_updates and "x:" in after_updates
        return
    assert after_updates == full_render(make_project, wxml, LIST_JS, steps)


COMPONENT = {
    "components/cell/cell.json": {"component": True},
    "components/cell/cell.wxml": '<view class="cell ext">{{title}}</view>',
    "components/cell/cell.js": """Component({ externalClasses: ['ext'], properties: { title: String },
      observers: { title(t) { const r = getApp().renders; r[t] = (r[t] || 0) + 1 } } })""",
    "app.js": "App({ renders: {} })",
    "pages/p/p.json": {"usingComponents": {"cell": "/components/cell/cell"}},
}


def test_component_rows_update_only_the_changed_component(make_project) -> None:
    wxml = '<view class="list"><cell wx:for="{{list}}" wx:key="id" title="{{item.name}}" ext="{{sel}}"/></view>'
    js = LIST_JS.replace("nothing()", "renders() { return getApp().renders },\n  nothing()")
    with launch(make_project(page(wxml, js, **COMPONENT))) as mp:
        mp.current_page.call_method("fill", 40)
        ops = ops_of(mp, "rename", 20, "changed")
        assert [o[0] for o in ops] == ["text"]
        renders = mp.current_page.call_method("renders")
        assert renders["changed"] == 1 and renders["row 21"] == 1  # the other cells saw nothing
        mp.current_page.call_method("select", "b")  # an external class every row passes on
        cells = mp.current_page.query_selector_all("cell > view")
        assert len(cells) == 40 and all(c.classes[-1] == "b" for c in cells)
        assert texts(mp, ".cell")[20] == "changed"
        assert not mp.errors


def test_rows_inside_a_component_follow_its_external_classes(make_project) -> None:
    project = make_project(page('<list items="{{list}}" ext="{{sel}}"/>', LIST_JS, **{
        "components/list/list.json": {"component": True},
        "components/list/list.wxml": '<view wx:for="{{items}}" wx:key="id" class="it ext">{{item.name}}</view>',
        "components/list/list.js": "Component({ externalClasses: ['ext'], properties: { items: Array } })",
        "pages/p/p.json": {"usingComponents": {"list": "/components/list/list"}},
    }))
    with launch(project) as mp:
        mp.current_page.call_method("fill", 12)
        mp.current_page.call_method("select", "z")
        rows = mp.current_page.query_selector_all("list > view")
        assert len(rows) == 12 and all(r.classes[-1] == "z" for r in rows)
        mp.current_page.call_method("replaceAll", "q")
        assert [r.text for r in mp.current_page.query_selector_all("list > view")][:2] == ["q0", "q1"]
        assert all(r.classes[-1] == "z" for r in mp.current_page.query_selector_all("list > view"))


def test_rows_swapped_through_paths_move_with_their_nodes(make_project) -> None:
    with launch(make_project(page(f'<view class="list">{ROW}</view>'))) as mp:
        mp.current_page.call_method("fill", 30)
        before = node_ids(mp, ".row")
        ops = ops_of(mp, "swap", 3, 20)
        assert created(ops) == 0  # keyed rows move, nothing is re-created
        after = node_ids(mp, ".row")
        assert after[3] == before[20] and after[20] == before[3]
        assert after[:3] == before[:3] and after[21:] == before[21:]
        assert texts(mp, ".name")[3] == "row 20" and texts(mp, ".n")[3] == "3"


class InEngine:
    """The framework and a compiled bundle in a QuickJS context in this process (no worker, no view),
    to read the framework's debug figures: rows rendered (`__mb.memoStats`) and positions the diff
    looked at (`MB.diffStats`)."""

    def __init__(self, project) -> None:
        from minibox.runtime.bundle import LoadedBundle, framework_sources
        from minibox.runtime.engine import Engine
        from minibox.testing import compile_cached

        bundle = LoadedBundle.from_dir(compile_cached(project))
        self.engine = Engine()
        self.engine.expose("__host_call", lambda s: json.dumps({"err": {"errMsg": "no host here"}}))
        for name, src in [*framework_sources(), ("render.js", bundle.render_js), ("logic.js", bundle.logic_js)]:
            self.engine.eval(src, name)
        config = dict(bundle.config)
        config.update(system={}, apis=[])
        self.call("init", {"config": config})
        out = self.call("launch", {})
        self.page = next(m["page"] for m in out["out"] if m.get("t") == "page" and m.get("op") == "open")

    def call(self, fn: str, args: dict) -> dict:
        self.engine.call_json("__mbDispatch", json.dumps({"fn": fn, "args": args, "now": 0}))
        self.engine.drain_jobs()
        return json.loads(self.engine.call_json("__mbCollect", ""))

    def method(self, name: str, *args: object) -> list:
        out = self.call("callMethod", {"page": self.page, "method": name, "args": list(args)})
        return [op for m in out["out"] if m.get("t") == "patch" for op in m["ops"]]

    def counted(self, name: str, *args: object) -> tuple[int, int, list]:
        """(rows rendered, diff positions looked at, ops) of one method call."""
        self.engine.eval("__mb.memoStats.rows = 0; MB.diffStats.visits = 0;")
        ops = self.method(name, *args)
        return (int(self.engine.eval("__mb.memoStats.rows")), int(self.engine.eval("MB.diffStats.visits")), ops)


@pytest.mark.parametrize("wxml", [f'<view class="list">{ROW}</view>',  # the loop is all its element holds
                                  f'<view class="list"><text>head</text>{ROW}</view>'])  # it is not
def test_a_one_row_path_update_visits_as_much_for_10000_rows_as_for_100(make_project, wxml: str) -> None:
    figures = {}
    for rows in (100, 10000):
        eng = InEngine(make_project(page(wxml)))
        eng.method("fill", rows)
        eng.counted("rename", rows // 3, "warm")
        figures[rows] = [eng.counted("rename", rows // 2, "changed")[:2], eng.counted("renameTwo", 1, rows - 2, "t")[:2]]
        _, _, ops = eng.counted("rename", rows // 2, "again")
        assert [o[0] for o in ops] == ["text"] and ops[0][2] == "again"
        # a change the memo cannot take: every row is rendered and looked at
        rendered, visited, _ = eng.counted("replaceAll", "x")
        assert rendered == rows and visited >= rows
    assert figures[100] == figures[10000]
    (one_rows, one_visits), (two_rows, two_visits) = figures[100]
    assert one_rows == 1 and two_rows == 2
    assert one_visits <= 8 and two_visits <= 2 * one_visits  # the page root, the list, the row and its texts


def test_rows_all_their_element_holds_in_a_component_follow_path_updates_and_classes(make_project) -> None:
    project = make_project(page('<list id="l" items="{{list}}" ext="{{sel}}"/>',
                                LIST_JS.replace("nothing()", "renameIn(i, v) { this.selectComponent('#l').renameIn(i, v) },\n  nothing()"), **{
        "components/list/list.json": {"component": True},
        "components/list/list.wxml": '<view class="box"><view wx:for="{{items}}" wx:key="id" class="it ext">'
                                     '{{item.name}}</view></view>',
        "components/list/list.js": "Component({ externalClasses: ['ext'], properties: { items: Array },"
                                   " methods: { renameIn(i, v) { this.setData({ ['items[' + i + '].name']: v }) } } })",
        "pages/p/p.json": {"usingComponents": {"list": "/components/list/list"}},
    }))
    with launch(project) as mp:
        mp.current_page.call_method("fill", 30)
        mp.current_page.call_method("select", "z")
        before = node_ids(mp, "list .it")
        mp.current_page.call_method("renameIn", 4, "a")  # the component's own setData on a path
        mp.current_page.call_method("select", "y")
        mp.current_page.call_method("renameIn", 5, "b")
        mp.current_page.call_method("renameIn", 5, "c")
        rows = mp.current_page.query_selector_all("list .it")
        assert len(rows) == 30 and all(r.classes[-1] == "y" for r in rows)
        assert [r.text for r in rows][3:7] == ["row 3", "a", "c", "row 6"]
        assert node_ids(mp, "list .it") == before
        assert not mp.errors
