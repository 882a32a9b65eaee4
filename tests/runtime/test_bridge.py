"""The bridge from the sandbox's patches to the views (issue 13): the `tree` op (docs/internals.md
§4), frames passed through the worker as the framework wrote them, and the host's frame checks.

What the views build is checked against the framework itself: every element a test can tap reports
its own dataset, so a node the view created under the wrong id (ids in `tree` ops are implicit)
would send the tap elsewhere. Nothing here is timed.
"""

from __future__ import annotations

import json
import random

import pytest

from minibox.runtime import protocol
from minibox.runtime.errors import ScriptError
from minibox.runtime.worker import done_body
from minibox.testing import launch
from minibox.view.tree import HeadlessView, PatchError


def patches_of(mp, method: str, *args: object) -> list:
    captured: list = []
    mp.instance.listeners.append(lambda m: captured.extend(m["ops"]) if m.get("t") == "patch" else None)
    try:
        mp.current_page.call_method(method, *args)
    finally:
        mp.instance.listeners.clear()
    return captured


# ---- the headless view applies `tree` ops as the ops they stand for --------------------------------
def flat(op: list) -> list:
    """The ops a `tree` op stands for (the documented expansion, as the browser renderer does it)."""
    out: list = []
    nid = op[2]

    def build(spec, parent):
        nonlocal nid
        if isinstance(spec, str):
            node, nid = nid, nid + 1
            out.append(["text", node, spec])
        else:
            at = 1 if isinstance(spec[0], int) else 0
            if at:
                nid = spec[0]
            node, nid = nid, nid + 1
            if at and len(spec) == 2:
                out.append(["text", node, spec[1]])
            else:
                extra = spec[at + 2] or {}
                out.append(["create", node, spec[at]])
                out.extend(["attr", node, k, v] for k, v in (extra.get("a") or {}).items())
                if spec[at + 1]:
                    out.append(["class", node, spec[at + 1]])
                if extra.get("s"):
                    out.append(["style", node, extra["s"]])
                if extra.get("e"):
                    out.append(["events", node, extra["e"]])
                for kid in spec[at + 3:]:
                    build(kid, node)
        if parent is not None:
            out.append(["insert", parent, node, None])

    for spec in op[3:]:
        build(spec, op[1])
    return out


def view_with_root() -> HeadlessView:
    view = HeadlessView()
    view.on_message({"t": "page", "op": "open", "page": 1, "path": "p", "root": 0})
    return view


TREE = ["tree", 0, 5,
        ["view", "a b", {"a": {"id": "x", "n": 3, "on": True}, "s": "color:red", "e": ["tap"]},
         ["text", "", 0, "hello"], "loose text", [20, "view", "", 0, [30, "late"], "after"]],
        [40, "slot", "", {"a": {"name": "icon"}}],
        "last"]


def test_a_tree_op_builds_what_its_flat_ops_build() -> None:
    fast, slow = view_with_root(), view_with_root()
    fast.apply([TREE])
    slow.apply(flat(TREE))
    assert fast.pages[1].root.to_dict() == slow.pages[1].root.to_dict()
    assert sorted(fast.nodes) == sorted(slow.nodes) == [0, 5, 6, 7, 8, 20, 30, 31, 40, 41]
    for nid, node in slow.nodes.items():
        other = fast.nodes[nid]
        assert (other.tag, other.text, other.attrs, other.class_name, other.style, other.events) == \
               (node.tag, node.text, node.attrs, node.class_name, node.style, node.events)
        assert (other.parent.id if other.parent else None) == (node.parent.id if node.parent else None)
    assert fast.nodes[31].text == "after" and fast.nodes[31].parent is fast.nodes[20]
    assert fast.nodes[5].events == ["tap"] and fast.nodes[5].attrs == {"id": "x", "n": 3, "on": True}


def test_a_tree_op_without_a_parent_creates_detached_nodes() -> None:
    view = view_with_root()
    view.apply([["tree", None, 7, ["view", "", 0, "x"], "y"]])
    assert view.nodes[7].parent is None and view.nodes[9].parent is None and view.nodes[8].parent is view.nodes[7]
    view.apply([["insert", 0, 9, None], ["insert", 0, 7, 9]])
    assert [c.id for c in view.pages[1].root.children] == [7, 9]


@pytest.mark.parametrize("op", [
    ["tree", 0], ["tree", 0, "1", "x"], ["tree", 0, 1, 5], ["tree", 0, 1, []], ["tree", 0, 1, [3]],
    ["tree", 0, 1, ["view"]], ["tree", 0, 1, ["view", "", 0, 5]], ["tree", 0, 1, [7, 8, "", 0]],
    ["tree", 0, 1, ["view", "", {"a": 5}]], ["tree", 0, 1, ["view", "", [1]]], ["tree", 0, 1.5, "x"],
])
def test_a_malformed_tree_op_is_a_patch_error(op: list) -> None:
    with pytest.raises(PatchError):
        view_with_root().apply([op])


def test_a_tree_op_under_an_unknown_parent_is_a_patch_error() -> None:
    with pytest.raises(PatchError, match="unknown node 99"):
        view_with_root().apply([["tree", 99, 1, "x"]])


# ---- what the framework sends: the same tree, with the ids it knows -------------------------------
CELL = {
    "components/cell/cell.json": {"component": True},
    "components/cell/cell.wxml": '<view class="cell" catchtap="own" data-k="cell-{{label}}"><slot/>'
                                 '<text class="label">{{label}}</text></view>',
    "components/cell/cell.js": "Component({ properties: { label: String },"
                               " methods: { own(e) { this.triggerEvent('hit', e.currentTarget.dataset.k) } } })",
}
DEEP = 45  # deeper than the nesting of one op's specs (MB_TREE_DEPTH)
PAGE_WXML = (
    '<view class="top" id="top" style="color: red" data-k="top" bindtap="hit">'
    '<cell wx:for="{{cells}}" wx:key="*this" label="{{item}}" id="c{{index}}" bind:hit="fromCell">'
    '<view class="inside" data-k="in-{{item}}" catchtap="hit">{{item}}</view></cell>'
    '<view class="list"><view wx:for="{{rows}}" wx:key="id" class="row" data-k="row-{{item.id}}" catchtap="hit"'
    ' obj="{{item.obj}}"><text class="name">{{item.name}}</text></view></view>'
    + "".join(f'<view class="d{i}">' for i in range(DEEP))
    + '<view class="deepest" data-k="deep" catchtap="hit">{{deep}}</view>' + "</view>" * DEEP
    + '<view class="end" data-k="end" catchtap="hit" gone="{{nothing}}" nan="{{0/0}}" no="{{false}}"/></view>'
)
PAGE_JS = """Page({
  data: { cells: [], rows: [], deep: '' },
  hit(e) { getApp().taps.push(e.currentTarget.dataset.k) },
  fromCell(e) { getApp().taps.push(e.detail) },
  fill(n) {
    const rows = []; for (let i = 0; i < n; i++) rows.push({ id: i, name: 'row ' + i, obj: { i: i, tags: ['t' + i] } });
    this.setData({ cells: ['a', 'b', 'c'], rows: rows, deep: 'bottom' })
  },
  insertAt(at, id) {
    const rows = this.data.rows.slice(); rows.splice(at, 0, { id: id, name: 'row ' + id, obj: { i: id, tags: [] } });
    this.setData({ rows: rows, cells: this.data.cells.concat(['x' + id]) })
  },
  taps() { return getApp().taps.splice(0) },
})"""
PROJECT = {"app.js": "App({ taps: [] })", "pages/p/p.json": {"usingComponents": {"cell": "/components/cell/cell"}},
           "pages/p/p.wxml": PAGE_WXML, "pages/p/p.js": PAGE_JS, **CELL}


def tapped(mp, selector: str) -> list[str]:
    out = []
    for el in mp.current_page.query_selector_all(selector):
        el.tap()
        out.extend(mp.current_page.call_method("taps"))
    return out


def check_page(mp, rows: list[int], cells: list[str]) -> None:
    page = mp.current_page
    assert tapped(mp, ".row") == [f"row-{i}" for i in rows]
    assert [e.text for e in page.query_selector_all(".name")] == [f"row {i}" for i in rows]
    assert tapped(mp, ".inside") == [f"in-{c}" for c in cells]
    assert tapped(mp, ".cell") == [f"cell-{c}" for c in cells]
    assert [e.text for e in page.query_selector_all(".label")] == cells
    assert tapped(mp, ".deepest") == ["deep"] and page.query_selector(".deepest").text == "bottom"
    assert tapped(mp, ".end") == ["end"]
    assert tapped(mp, ".top > .end") == ["end"]
    assert page.query_selector(".end").attrs == {"no": False}  # null (or NaN: JSON null) is no attribute
    top = page.query_selector("#top")
    assert top.style == "color: red" and top.classes == ["top"]
    assert [e.attr("id") for e in page.query_selector_all("cell")] == [f"c{i}" for i in range(len(cells))]
    assert [e.attr("obj") for e in page.query_selector_all(".row")] == [
        {"i": i, "tags": [f"t{i}"] if i < 1000 else []} for i in rows]
    for node in mp.view.nodes.values():  # every node the view has is where the framework put it
        if node.parent is not None:
            assert node in node.parent.children


def test_a_first_fill_is_a_few_tree_ops_and_every_node_has_its_id(make_project) -> None:
    with launch(make_project(PROJECT)) as mp:
        ops = patches_of(mp, "fill", 40)
        kinds = [o[0] for o in ops]
        assert "create" not in kinds and kinds.count("tree") < 10  # not one (or ten) per row
        assert kinds.count("insert") == 3  # the cells, created among kept nodes; the rows are appended
        attrs = [o for o in ops if o[0] == "attr" and o[2] == "obj"]  # objects: as ops of their own
        assert len(attrs) == 40 and all(isinstance(o[3], dict) for o in attrs)
        check_page(mp, list(range(40)), ["a", "b", "c"])
        # created among kept nodes (the keyed diff's other path), then the same again
        mp.current_page.call_method("insertAt", 5, 1005)
        mp.current_page.call_method("insertAt", 0, 1000)
        check_page(mp, [1000, *range(5), 1005, *range(5, 40)], ["a", "b", "c", "x1005", "x1000"])


def test_a_first_fill_builds_what_a_fresh_page_shows(make_project) -> None:
    with launch(make_project(PROJECT)) as mp:
        mp.current_page.call_method("fill", 12)
        filled = mp.current_page.root.wxml
        data = {k: mp.current_page.data[k] for k in ("cells", "rows", "deep")}
    fresh = dict(PROJECT, **{"pages/p/p.js": PAGE_JS.replace("data: { cells: [], rows: [], deep: '' }",
                                                            "data: " + json.dumps(data))})
    with launch(make_project(fresh)) as mp:
        assert mp.current_page.root.wxml == filled


# ---- frames: the framework's JSON passes through the worker as it is ------------------------------
def test_done_body_splices_the_framework_json() -> None:
    body = done_body('{"out":[{"t":"patch","ops":[["text",3,"\\ud800 lone"]]}],"nextTimer":null}', '{"x":[1]}')
    frame = protocol.loads(body)
    assert frame == {"out": [{"t": "patch", "ops": [["text", 3, "\ud800 lone"]]}], "nextTimer": None,
                     "result": {"x": [1]}, "t": "done"}
    assert protocol.loads(done_body('{"out":[]}', ""))["result"] is None


@pytest.mark.parametrize("collected", ['{"out":[}', '[1]', '{}', ' {"out":[]}', '"s"', '', '{"out":[]} ',
                                       '{"a":' * 600 + '1' + '}' * 600])
def test_done_body_refuses_what_is_not_the_framework_object(collected: str) -> None:
    with pytest.raises(ScriptError, match=r"corrupted|could not be sent"):
        done_body(collected, "null")


def test_a_framework_broken_by_the_mini_program_is_a_script_error(make_project) -> None:
    js = """Page({ data: { n: 0 },
      breakIt() { globalThis.__mbCollect = function () { return '{"out": [' }; this.setData({ n: 1 }) } })"""
    with launch(make_project({"pages/p/p.wxml": "<view>{{n}}</view>", "pages/p/p.js": js})) as mp:
        with pytest.raises(ScriptError, match="corrupted by mini-program code"):
            mp.current_page.call_method("breakIt")
        assert mp.instance.alive


def reference_depth(text: str) -> int:
    """The nesting of JSON text, by a plain scan (the reference for the fast check)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def test_the_depth_check_agrees_with_a_plain_scan() -> None:
    rng = random.Random(13)
    atoms = [1, "a[b", "]]", 'x\\"[', "\\", "\u00e9[", None, True, "{{", "", "[", '"', "\\\\[", "\ud800"]

    def gen(d: int, cap: int):
        r = rng.random()
        if d >= cap or r < 0.3:
            return rng.choice(atoms)
        if r < 0.65:
            return [gen(d + 1, cap) for _ in range(rng.randint(0, 3))]
        return {rng.choice(["k", "[", "}", "\\", '"']) + str(i): gen(d + 1, cap) for i in range(rng.randint(0, 3))}

    for _ in range(3000):
        text = json.dumps(gen(0, rng.choice([3, 12, 40])), ensure_ascii=rng.random() < 0.5)
        depth = reference_depth(text)
        for limit in {0, 1, depth - 1, depth, depth + 1, 8}:
            if limit >= 0:
                assert protocol.json_depth_exceeds(text, limit) == (depth > limit), (text, limit)
    wide = "[" + ",".join(['[[1,[2]],{"a":[3]}]'] * 2000) + "]"
    deep_groups = ("[" * 40 + "]" * 40) * 500
    for text in (wide, deep_groups, "[" * 600 + "]" * 600, '["' + "[" * 600 + '"]'):
        for limit in (3, 4, 39, 40, 41, 512):
            assert protocol.json_depth_exceeds(text, limit) == (reference_depth(text) > limit)
