"""relations (parent/child/ancestor/descendant, target behaviors), slots, externalClasses."""

from __future__ import annotations

from minibox.testing import launch

RELATION_FILES = {
    "app.js": "App({ globalData: { log: [] } })",
    "comp/ul.js": """Component({
      relations: { './li': { type: 'child',
        linked(t) { getApp().globalData.log.push('ul linked ' + t.data.label) },
        linkChanged(t) { getApp().globalData.log.push('ul changed ' + t.data.label) },
        unlinked(t) { getApp().globalData.log.push('ul unlinked ' + t.data.label) } } },
      methods: { labels() { return this.getRelationNodes('./li').map(c => c.data.label) } },
    })""",
    "comp/ul.wxml": "<view class='ul'><slot/></view>", "comp/ul.json": {"component": True},
    "comp/li.js": """Component({
      properties: { label: String },
      relations: { './ul': { type: 'parent',
        linked(p) { getApp().globalData.log.push('li linked ' + this.data.label) },
        unlinked(p) { getApp().globalData.log.push('li unlinked ' + this.data.label) } } },
      methods: { parentIs() { const p = this.getRelationNodes('./ul'); return p.length ? p[0].is : null } },
    })""",
    "comp/li.wxml": "<view class='li'>{{label}}</view>", "comp/li.json": {"component": True},
    # ancestor/descendant through a behavior target, across plain views
    "comp/form.js": """const item = require('./item-behavior.js');
      Component({ relations: { items: { type: 'descendant', target: item } },
        methods: { names() { return this.getRelationNodes('items').map(c => c.data.name) } } })""",
    "comp/form.wxml": "<slot/>", "comp/form.json": {"component": True},
    "comp/item-behavior.js": "module.exports = Behavior({ properties: { name: String } })",
    "comp/input.js": """const item = require('./item-behavior.js');
      Component({ behaviors: [item], relations: { './form': { type: 'ancestor' } },
        methods: { formIs() { return this.getRelationNodes('./form').map(f => f.is) } } })""",
    "comp/input.wxml": "<view>{{name}}</view>", "comp/input.json": {"component": True},
}


def test_parent_child_relations(make_project) -> None:
    project = make_project({
        **RELATION_FILES,
        "pages/p/p.wxml": """<c-ul id='ul'><c-li wx:for='{{items}}' wx:key='*this' label='{{item}}'/></c-ul>
                             <c-li id='orphan' label='alone'/>""",
        "pages/p/p.js": "Page({ data: { items: ['a', 'b'] }, set(items) { this.setData({ items }) } })",
        "pages/p/p.json": {"usingComponents": {"c-ul": "/comp/ul", "c-li": "/comp/li"}},
    })
    with launch(project) as mp:
        page = mp.current_page
        ul = page.query_selector("#ul")
        # the parent's callback first, then the child's
        assert mp.app_data["log"] == ["ul linked a", "li linked a", "ul linked b", "li linked b"]
        assert ul.call_method("labels") == ["a", "b"]
        assert page.query_selector("#orphan").call_method("parentIs") is None
        assert page.query_selector_all("c-li")[0].call_method("parentIs") == "comp/ul"
        page.call_method("set", ["c", "b", "a"])  # a moves, b moves or stays, c is new
        log = mp.app_data["log"][4:]
        assert "ul linked c" in log and "li linked c" in log
        assert any(x.startswith("ul changed") for x in log)
        assert ul.call_method("labels") == ["c", "b", "a"]  # tree order
        page.call_method("set", ["b"])
        log = mp.app_data["log"]
        assert "ul unlinked a" in log and "li unlinked a" in log and "ul unlinked c" in log
        assert ul.call_method("labels") == ["b"]


def test_ancestor_descendant_with_target_behavior(make_project) -> None:
    project = make_project({
        **RELATION_FILES,
        "pages/p/p.wxml": """<c-form id='f'><view><view><c-input name='x'/></view></view><c-input name='y'/></c-form>""",
        "pages/p/p.json": {"usingComponents": {"c-form": "/comp/form", "c-input": "/comp/input"}},
    })
    with launch(project) as mp:
        assert mp.current_page.query_selector("#f").call_method("names") == ["x", "y"]
        assert mp.current_page.query_selector("c-input").call_method("formIs") == ["comp/form"]


SLOT_FILES = {
    "comp/card.js": "Component({ options: { multipleSlots: true }, properties: { title: String } })",
    "comp/card.wxml": """<view class='card'><view class='head'><slot name='head'/></view>
                         <view class='body'><slot/></view><view class='foot'><slot name='foot'/></view></view>""",
    "comp/card.json": {"component": True},
    "comp/single.js": "Component({})",
    "comp/single.wxml": "<view class='single'><slot/></view>",
    "comp/single.json": {"component": True},
}


def test_default_and_named_slots(make_project) -> None:
    project = make_project({
        **SLOT_FILES,
        "pages/p/p.wxml": """<c-card><view slot='foot'>F {{n}}</view><text>body {{n}}</text><view slot='head'>H</view></c-card>
                             <c-single><view slot='x'>named in single</view><view>plain</view></c-single>""",
        "pages/p/p.js": "Page({ data: { n: 1 }, inc() { this.setData({ n: this.data.n + 1 }) } })",
        "pages/p/p.json": {"usingComponents": {"c-card": "/comp/card", "c-single": "/comp/single"}},
    })
    with launch(project) as mp:
        page = mp.current_page
        assert page.query_selector(".head").text == "H"
        assert page.query_selector(".body").text == "body 1"
        assert page.query_selector(".foot").text == "F 1"
        # without multipleSlots every child goes to the default slot
        assert page.query_selector(".single").text == "named in singleplain"
        page.call_method("inc")  # light DOM renders with the page's data
        assert page.query_selector(".body").text == "body 2" and page.query_selector(".foot").text == "F 2"


def test_external_classes(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": """<c-x id='a' my-class='red big' class='host'/><c-x id='b'/>
                             <c-wrap outer-class='{{cls}}'/>""",
        "pages/p/p.js": "Page({ data: { cls: 'o1' }, set(c) { this.setData({ cls: c }) } })",
        "pages/p/p.json": {"usingComponents": {"c-x": "/comp/x", "c-wrap": "/comp/wrap"}},
        "comp/x.js": "Component({ externalClasses: ['my-class'] })",
        "comp/x.wxml": "<view class='inner my-class'>x</view>", "comp/x.json": {"component": True},
        # a component passing its own external class on to a child
        "comp/wrap.js": "Component({ externalClasses: ['outer-class'] })",
        "comp/wrap.wxml": "<c-x my-class='outer-class w'/>",
        "comp/wrap.json": {"component": True, "usingComponents": {"c-x": "/comp/x"}},
    })
    with launch(project) as mp:
        page = mp.current_page
        assert page.query_selector("#a .inner").classes == ["inner", "red", "big"]
        assert page.query_selector("#a").classes == ["host"]
        assert page.query_selector("#b .inner").classes == ["inner"]  # unset: stands for nothing
        assert page.query_selector("c-wrap .inner").classes == ["inner", "o1", "w"]
        page.call_method("set", "o2")
        assert page.query_selector("c-wrap .inner").classes == ["inner", "o2", "w"]


def test_common_node_relations_and_link_failed(make_project) -> None:
    project = make_project({
        "app.js": "App({ globalData: { log: [] } })",
        "pages/p/p.wxml": """<c-box id='box'><c-item id='direct' n='1'/><view><c-item id='wrapped' n='2'/></view></c-box>
                             <c-item id='alone' n='3'/>""",
        "pages/p/p.json": {"usingComponents": {"c-box": "/comp/box", "c-item": "/comp/item"}},
        "comp/box.js": """Component({ relations: { './item': { type: 'child-common-node' } },
          methods: { ns() { return this.getRelationNodes('./item').map(i => i.data.n) } } })""",
        "comp/box.wxml": "<slot/>", "comp/box.json": {"component": True},
        "comp/item.js": """Component({ properties: { n: Number }, relations: { './box': { type: 'parent-common-node',
          linkFailed() { getApp().globalData.log.push('failed ' + this.data.n) } } } })""",
        "comp/item.wxml": "<view>{{n}}</view>", "comp/item.json": {"component": True},
    })
    with launch(project) as mp:
        # only an immediate parent node links; the others report linkFailed
        assert mp.current_page.query_selector("#box").call_method("ns") == [1]
        assert sorted(mp.app_data["log"]) == ["failed 2", "failed 3"]


def test_slot_passed_into_a_slot_that_appears_later(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-outer id='o'><view class='content'>{{msg}}</view></c-outer>",
        "pages/p/p.js": "Page({ data: { msg: 'hello' } })",
        "pages/p/p.json": {"usingComponents": {"c-outer": "/comp/outer"}},
        # outer hands its own <slot> to an inner component whose slot exists only once shown
        "comp/outer.js": "Component({ methods: { show() { this.selectComponent('#in').setData({ on: true }) } } })",
        "comp/outer.wxml": "<c-inner id='in'><slot/></c-inner>",
        "comp/outer.json": {"component": True, "usingComponents": {"c-inner": "/comp/inner"}},
        "comp/inner.js": "Component({ data: { on: false } })",
        "comp/inner.wxml": "<view wx:if='{{on}}' class='box'><slot/></view>",
        "comp/inner.json": {"component": True},
    })
    with launch(project) as mp:
        page = mp.current_page
        assert page.query_selector(".content") is None
        page.query_selector("#o").call_method("show")
        assert page.query_selector(".box .content").text == "hello"
        page.set_data({"msg": "again"})
        assert page.query_selector(".box .content").text == "again"


def test_a_parent_re_rendering_as_each_child_links_keeps_its_light_children(make_project) -> None:
    """wux-weapp's row: its `linked` re-renders the row itself once per column. The columns (the
    owner's light DOM) stay where they are, the same elements, and nothing is re-created."""
    project = make_project({
        "comp/row.js": """Component({
          relations: { './col': { type: 'child', linked() { this.setData({ n: this.getRelationNodes('./col').length }) } } },
          data: { n: 0 } })""",
        "comp/row.wxml": "<view class='row' data-n='{{n}}'><slot/></view>", "comp/row.json": {"component": True},
        "comp/col.js": "Component({ properties: { i: Number }, relations: { './row': { type: 'parent' } } })",
        "comp/col.wxml": "<view class='col'>{{i}}</view>", "comp/col.json": {"component": True},
        "pages/p/p.json": {"usingComponents": {"row": "/comp/row", "col": "/comp/col"}},
        "pages/p/p.wxml": "<row id='r'><col wx:for='{{list}}' wx:key='*this' i='{{item}}'/></row>",
        "pages/p/p.js": "Page({ data: { list: Array.from({ length: 300 }, (_, i) => i) } })",
    })
    with launch(project) as mp:
        page = mp.current_page
        cols = page.query_selector_all(".col")
        assert [c.text for c in cols] == [str(i) for i in range(300)]
        assert page.query_selector(".row").dataset == {"n": 300}
        ids = [c.node.id for c in cols]
        row = page.query_selector("#r")
        row.call_method("setData", {"n": -1})
        after = page.query_selector_all(".col")
        assert [c.node.id for c in after] == ids  # the same elements, in place
        assert [c.text for c in after] == [str(i) for i in range(300)]
        assert not mp.errors
