"""Every WXML construct, rendered by the compiled render.js in a real QuickJS context."""

from __future__ import annotations


def test_text_and_attribute_bindings(page):
    r = page('<view id="main" class="a {{b}} c" style="color:{{color}}">Hi {{name}}!</view>')
    assert r({"b": "B", "color": "red", "name": "Ann"}) == [
        {"t": "view", "a": {"id": "main"}, "cls": "a B c", "st": "color:red", "c": [{"x": "Hi Ann!"}]}
    ]


def test_single_mustache_attribute_keeps_its_type(page):
    r = page(
        '<checkbox checked="{{on}}" value="{{n}}" data-o="{{obj}}" items="{{[1, 2]}}" label="{{n}} " plain disabled/>'
    )
    (node,) = r({"on": True, "n": 3, "obj": {"a": 1}})
    assert node["a"] == {
        "checked": True,
        "value": 3,
        "items": [1, 2],
        "label": "3 ",
        "plain": True,
        "disabled": True,
    }
    assert node["ds"] == {"o": {"a": 1}}


def test_undefined_and_null_render_empty_and_member_access_is_safe(page):
    r = page("<view>[{{missing}}][{{nul}}][{{a.b.c.d}}][{{nul.x}}][{{list[5].y}}]</view>")
    assert r({"nul": None, "list": []})[0]["c"] == [{"x": "[][][][][]"}]


def test_expressions(page):
    r = page(
        '<wxs module="m">module.exports = {A: Array};</wxs>'
        "<view>{{a + b * 2}}|{{a > 1 ? 'big' : 'small'}}|{{!flag}}|{{a % 2 === 1 && b}}|{{-a}}|"
        "{{typeof s}}|{{s + a}}|{{x ?? 'dflt'}}|{{a == '1'}}|{{(a + b) * 2}}|{{arr[1]}}|{{obj['k']}}|"
        "{{arr.length}}|{{0x10}}|{{1.5e1}}|{{'a\\'b'}}|{{arr instanceof m.A}}|{{a instanceof b}}|{{void 0}}</view>",
    )
    (v,) = r({"a": 1, "b": 2, "flag": False, "s": "str", "arr": [7, 8], "obj": {"k": "v"}})
    assert v["c"][0]["x"] == "5|small|true|2|-1|string|str1|dflt|true|6|8|v|2|16|15|a'b|true|false|"


def test_object_and_array_literals_in_attributes(page):
    r = page('<view a="{{ {x: 1, y: [a, b], ...o} }}" b="{{[...list, 3]}}" c="{{[...notlist]}}"/>')
    (v,) = r({"a": 1, "b": 2, "o": {"z": 3}, "list": [1, 2]})
    assert v["a"] == {"a": {"x": 1, "y": [1, 2], "z": 3}, "b": [1, 2, 3], "c": []}


def test_text_whitespace_follows_glass_easel(page):
    r = page("<view>\n  <text> x </text>\n  <text>y</text>\n</view><view> </view><view>\n  {{a}}\n</view>")
    out = r({"a": 1})
    assert out[0]["c"] == [
        {"t": "text", "a": {}, "c": [{"x": " x "}]},
        {"t": "text", "a": {}, "c": [{"x": "y"}]},
    ]
    assert out[1]["c"] == []
    assert out[2]["c"] == [{"x": "\n  1\n"}]


def test_entities_decoded_in_text_and_attributes_not_in_mustaches(page):
    r = page(
        '<view title="a &amp; b &quot;q&quot;">&lt;b&gt; &amp; &nbsp;&#x4e2d;&#25991; {{"&amp;"}}</view>'
    )
    (v,) = r()
    assert v["a"]["title"] == 'a & b "q"'
    assert v["c"] == [{"x": "<b> & \u00a0中文 &amp;"}]


def test_comments_are_dropped_and_text_around_them_merges(page):
    r = page("<view>a<!-- <view>not me</view> -->b</view>")
    assert r()[0]["c"] == [{"x": "ab"}]


def test_markup_like_text_is_never_parsed(page):
    r = page('<view>{{msg}}</view><view title="{{msg}}"/>')
    payload = '<img src=x onerror=window.__pwned=1>" onmouseover="x'
    out = r({"msg": payload})
    assert out[0]["c"] == [{"x": payload}]
    assert out[1]["a"]["title"] == payload


def test_wx_for_with_key_field_and_default_names(page):
    r = page('<view wx:for="{{list}}" wx:key="id" data-i="{{index}}">{{item.name}}</view>')
    out = r({"list": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]})
    assert [(n["k"], n["ds"]["i"], n["c"][0]["x"]) for n in out] == [("a", 0, "A"), ("b", 1, "B")]


def test_wx_for_key_this_and_no_key_and_custom_names(page):
    r = page(
        '<view wx:for="{{nums}}" wx:key="*this">{{item}}</view>'
        '<text wx:for="{{nums}}" wx:for-item="n" wx:for-index="i">{{i}}={{n}}</text>'
    )
    out = r({"nums": [5, 6]})
    assert [n["k"] for n in out[:2]] == [5, 6]
    assert [(n["k"], n["c"][0]["x"]) for n in out[2:]] == [(0, "0=5"), (1, "1=6")]


def test_wx_for_literal_array_string_number_object(page):
    r = page(
        '<text wx:for="{{[1, 2]}}">{{item}}</text>|<text wx:for="ab">{{item}}</text>|'
        '<text wx:for="{{3}}">{{item}}</text>|<text wx:for="{{obj}}">{{index}}:{{item}}</text>|'
        '<text wx:for="{{nothing}}">never</text>'
    )
    out = r({"obj": {"x": 1, "y": 2}})
    texts = [n["c"][0]["x"] if "t" in n else n["x"] for n in out]
    assert texts == ["1", "2", "|", "a", "b", "|", "0", "1", "2", "|", "x:1", "y:2", "|"]


def test_nested_for_scopes_shadow_and_reach_outer(page):
    r = page(
        '<view wx:for="{{rows}}" wx:for-item="row" wx:for-index="ri">'
        '<text wx:for="{{row.cells}}">{{ri}}.{{index}}:{{item}}/{{row.name}}</text></view>'
    )
    out = r({"rows": [{"name": "r0", "cells": ["a", "b"]}, {"name": "r1", "cells": ["c"]}]})
    assert [[c["c"][0]["x"] for c in row["c"]] for row in out] == [["0.0:a/r0", "0.1:b/r0"], ["1.0:c/r1"]]


def test_for_with_if_filters_per_item(page):
    r = page('<view wx:for="{{list}}" wx:if="{{item.show}}">{{item.n}}</view>')
    out = r({"list": [{"n": 1, "show": True}, {"n": 2}, {"n": 3, "show": 1}]})
    assert [n["c"][0]["x"] for n in out] == ["1", "3"]


def test_if_elif_else(page):
    r = page(
        '<view wx:if="{{n > 5}}">big</view>\n  <view wx:elif="{{n > 2}}">mid</view>\n'
        "  <!-- comment --> <view wx:else>small</view><text>after</text>"
    )
    assert [n["c"][0]["x"] for n in r({"n": 9})] == ["big", "after"]
    assert [n["c"][0]["x"] for n in r({"n": 3})] == ["mid", "after"]
    assert [n["c"][0]["x"] for n in r({"n": 1})] == ["small", "after"]


def test_block_leaves_no_node_and_block_for_keys_children(page):
    r = page(
        '<block wx:for="{{l}}" wx:key="id"><text>{{item.id}}</text><view/></block><block wx:if="{{1}}">x</block>'
    )
    out = r({"l": [{"id": 1}, {"id": 2}]})
    assert [(n["t"], n["k"]) for n in out[:4]] == [("text", 1), ("view", 1), ("text", 2), ("view", 2)]
    assert out[4] == {"x": "x"}


def test_hidden(page):
    r = page('<view hidden="{{h}}"/><view hidden/><view hidden="{{false}}"/>')
    out = r({"h": True})
    assert [n["a"] for n in out] == [{"hidden": True}, {"hidden": True}, {}]


def test_events_all_forms(page):
    r = page(
        '<view bindtap="a" bind:longpress="b" catchtouchstart="c" catch:touchmove="d" '
        'capture-bind:tap="e" capture-catch:touchend="f" mut-bind:tap="g" bindtap2="{{dyn}}"/>'
    )
    (v,) = r({"dyn": "onDyn"})
    assert v["ev"] == [
        {"type": "tap", "handler": "a", "mode": "bind"},
        {"type": "longpress", "handler": "b", "mode": "bind"},
        {"type": "touchstart", "handler": "c", "mode": "catch"},
        {"type": "touchmove", "handler": "d", "mode": "catch"},
        {"type": "tap", "handler": "e", "mode": "capture-bind"},
        {"type": "touchend", "handler": "f", "mode": "capture-catch"},
        {"type": "tap", "handler": "g", "mode": "mut-bind"},
        {"type": "tap2", "handler": "onDyn", "mode": "bind"},
    ]
    assert v["a"] == {}


def test_dataset_camel_case_and_marks(page):
    r = page('<view data-user-name="{{u}}" data-id="7" data-a-b-c="x" mark:my-mark="{{m}}" mark:k="v"/>')
    (v,) = r({"u": "bob", "m": [1]})
    assert v["ds"] == {"userName": "bob", "id": "7", "aBC": "x"}
    assert v["mk"] == {"myMark": [1], "k": "v"}


def test_tags_builtin_lowercased_custom_kept_slot_and_generic(page):
    r = page('<VIEW><my-Card generic:item="row-item" slot="s"/><slot name="x"/></VIEW>')
    (v,) = r()
    assert v["t"] == "view"
    assert v["c"][0] == {"t": "my-Card", "a": {"generic:item": "row-item", "slot": "s"}, "c": []}
    assert v["c"][1] == {"t": "slot", "a": {"name": "x"}, "c": []}


def test_self_closing_tags(page):
    r = page("<view><image src='a.png'/><input value=\"{{v}}\" /></view>")
    assert r({"v": "x"})[0]["c"] == [
        {"t": "image", "a": {"src": "a.png"}, "c": []},
        {"t": "input", "a": {"value": "x"}, "c": []},
    ]


def test_quotes_inside_mustache_in_attribute(page):
    r = page('<view class="{{on ? "yes" : \'no\'}}" title=\'{{a > b ? "gt" : "le"}}\'/>')
    assert r({"on": 1, "a": 2, "b": 1})[0]["cls"] == "yes"
    assert r({"on": 1, "a": 2, "b": 1})[0]["a"]["title"] == "gt"


def test_templates_static_and_dynamic_is_with_spread_and_shorthand(page):
    r = page(
        '<template name="item"><text>{{name}}-{{n}}</text></template>'
        '<template name="other"><view>other {{name}}</view></template>'
        '<template is="item" data="{{...user, n: 1}}"/>'
        '<template is="{{which}}" data="{{name}}"/>'
        '<template is="missing"/>'
    )
    out = r({"user": {"name": "u"}, "which": "other", "name": "N"})
    assert out == [
        {"t": "text", "a": {}, "c": [{"x": "u-1"}]},
        {"t": "view", "a": {}, "c": [{"x": "other N"}]},
    ]


def test_template_sees_only_its_data(page):
    r = page(
        '<template name="t"><text>[{{secret}}][{{v}}]</text></template><template is="t" data="{{v: 1}}"/>'
    )
    assert r({"secret": "s"})[0]["c"] == [{"x": "[][1]"}]


def test_template_in_for_loop(page):
    r = page(
        '<template name="row"><text>{{item.n}}</text></template><template name="row2"><text>{{n}}</text></template>'
        '<block wx:for="{{list}}"><template is="row" data="{{item}}"/><template is="row2" data="{{...item}}"/></block>'
    )
    assert [n["c"][0]["x"] for n in r({"list": [{"n": 1}, {"n": 2}]})] == ["1", "1", "2", "2"]


def test_recursive_template_stops_at_depth_limit(page):
    r = page(
        '<template name="t"><view><template is="t" data="{{d: d}}"/></view></template><template is="t" data="{{d: 1}}"/>'
    )
    out = r()
    depth = 0
    node = out[0]
    while node["c"]:
        depth += 1
        node = node["c"][0]
    assert 10 < depth < 200


def test_import_scoping_is_not_transitive(page):
    r = page(
        '<import src="../../tpl/a.wxml"/><template is="a"/><template is="b"/><template is="a-local"/>',
        {
            "tpl/a.wxml": '<import src="b.wxml"/><template name="a"><text>A</text><template is="b"/></template>'
            "<view>body of a is not rendered by import</view>",
            "tpl/b.wxml": '<template name="b"><text>B</text></template>',
        },
    )
    assert r() == [{"t": "text", "a": {}, "c": [{"x": "A"}]}, {"t": "text", "a": {}, "c": [{"x": "B"}]}]


def test_import_absolute_path_and_local_template_wins(page):
    r = page(
        '<import src="/tpl/a"/><template name="a"><text>local</text></template><template is="a"/>',
        {"tpl/a.wxml": '<template name="a"><text>imported</text></template>'},
    )
    assert r()[0]["c"] == [{"x": "local"}]


def test_include_renders_everything_but_templates_and_wxs(page):
    r = page(
        '<include src="part.wxml"/><text>after</text>',
        {
            "pages/index/part.wxml": '<wxs module="m">module.exports = {f: function () { return "w"; }};</wxs>'
            '<template name="hidden"><text>no</text></template>'
            '<view>{{title}} {{m.f()}}</view><template is="hidden"/>',
        },
    )
    assert r({"title": "T"}) == [
        {"t": "view", "a": {}, "c": [{"x": "T w"}]},
        {"t": "text", "a": {}, "c": [{"x": "no"}]},
        {"t": "text", "a": {}, "c": [{"x": "after"}]},
    ]


def test_inline_and_src_wxs_modules(page):
    r = page(
        '<wxs module="fmt" src="../../utils/fmt.wxs"/>'
        '<wxs module="m">var k = 2; module.exports.twice = function (x) { return x * k; };</wxs>'
        "<view>{{fmt.money(amount)}} {{m.twice(21)}} {{m.nothere(1)}} {{fmt.boom()}}</view>",
        {
            "utils/fmt.wxs": "module.exports = { money: function (v) { return '$' + v.toFixed(2); },"
            " boom: function () { throw new Error('x'); } };"
        },
    )
    assert r({"amount": 3})[0]["c"] == [{"x": "$3.00 42  "}]


def test_render_is_pure_and_repeatable(page):
    r = page('<view wx:for="{{l}}" wx:key="*this">{{item}}</view>')
    assert r({"l": [1, 2]}) == r({"l": [1, 2]})
    assert len(r({"l": list(range(1000))})) == 1000


def test_constructor_is_not_reachable_from_expressions(page):
    r = page(
        "<view>{{a.constructor}}|{{constructor}}|{{a.__proto__}}|{{'x'.constructor}}|{{own.constructor}}</view>"
    )
    assert r({"a": {}, "own": {"constructor": "mine"}})[0]["c"] == [{"x": "||||mine"}]


def test_has_render_and_unknown_path(page):
    r = page('<view/><include wx:if="{{false}}" src="/other/x.wxml"/>', {"other/x.wxml": "<text>x</text>"})
    assert r.eval('__mb.hasRender("other/x")') is True
    assert r.eval('__mb.hasRender("nope")') is False
    assert r(path="other/x") == [{"t": "text", "a": {}, "c": [{"x": "x"}]}]
    assert "no compiled WXML" in r.eval(
        '(function(){try{__mb.render("nope",{})}catch(e){return e.message}})()'
    )


def test_only_what_a_page_or_component_reaches_is_in_render_js(build):
    """A WXML or WXS file that no page or component imports, includes or uses can never be rendered
    (WeChat's devtools leave it out of an upload): it is compiled and checked, not shipped."""
    b = build({
        "pages/index/index.wxml": '<import src="/t/a.wxml"/><template is="a"/><wxs module="m" src="/w/used.wxs"/>',
        "t/a.wxml": '<template name="a"><include src="/t/inc.wxml"/></template>',
        "t/inc.wxml": "<text>inc</text>",
        "w/used.wxs": 'var d = require("./dep.wxs"); module.exports = d;',
        "w/dep.wxs": "module.exports = 'dep-module';",
        "lost/y.wxml": "<text>lost-template</text>",
        "w/lost.wxs": "module.exports = 'lost-module';",
        "lost/bad.wxml": "<view>{{</view>",
    })
    js = b.render_js
    for key in ("pages/index/index", "t/a", "t/inc"):
        assert f'FD["{key}"]' in js
    assert "dep-module" in js and "lost-template" not in js and "lost-module" not in js
    assert any(e.file == "lost/bad.wxml" for e in b.errors)  # compiled all the same: its errors are reported


def test_include_and_template_inside_for_and_if(page):
    r = page(
        '<template name="t"><text>{{v}}</text></template>'
        '<template wx:for="{{l}}" is="t" data="{{v: item}}"/>'
        '<include wx:if="{{show}}" src="/inc.wxml"/>',
        {"inc.wxml": "<view>inc {{title}}</view>"},
    )
    out = r({"l": ["a", "b"], "show": True, "title": "T"})
    assert [n["c"][0]["x"] for n in out] == ["a", "b", "inc T"]
    assert [n["c"][0]["x"] for n in r({"l": [], "show": False})] == []


def test_wxs_module_shadows_data_and_for_item_shadows_module(page):
    r = page(
        '<wxs module="m">module.exports = {v: "wxs"};</wxs><text>{{m.v}}</text>'
        '<text wx:for="{{[{v: 1}]}}" wx:for-item="m">{{m.v}}</text>'
    )
    assert [n["c"][0]["x"] for n in r({"m": {"v": "data"}})] == ["wxs", "1"]


def test_model_two_way_binding(page):
    r = page('<input model:value="{{form.name}}"/>')
    assert r({"form": {"name": "x"}}) == [
        {"t": "input", "a": {"value": "x"}, "md": {"value": "form.name"}, "c": []}
    ]
