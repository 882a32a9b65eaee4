"""WXS modules: exports, require, getRegExp/getDate, `.constructor` strings, no globals, compile-time refusals."""

from __future__ import annotations

P = "pages/index/index.wxml"

ARRAY_WXS = """
function isArray(array) {
  return array && array.constructor === 'Array';
}
function keys(obj) { return JSON.stringify(obj).replace(new getRegExp('"(\\\\w+)":', 'g'), '$1|'); }
module.exports.isArray = isArray;
module.exports.keys = keys;
"""


def test_constructor_yields_type_name_strings(page):
    r = page(
        '<wxs module="t">module.exports = function (x) { return x.constructor; };'
        "module.exports.all = function () { var f = function () {};"
        " return [[].constructor, ({}).constructor, 'a'.constructor, (1).constructor, true.constructor,"
        " f.constructor, getDate().constructor, getRegExp('a').constructor, [[1]][0].constructor,"
        " [1].concat([2]).constructor, 'x'.constructor.constructor].join(','); };</wxs>"
        "<view>{{t.all()}}|{{t(list)}}|{{t(obj)}}</view>"
    )
    assert r({"list": [1], "obj": {}})[0]["c"] == [
        {"x": "Array,Object,String,Number,Boolean,Function,Date,RegExp,Array,Array,String|Array|Object"}
    ]


def test_vant_style_array_module_with_require(page):
    r = page(
        '<wxs module="utils" src="../../wxs/utils.wxs"/><view>{{utils.isArray(a)}} {{utils.isArray(o)}}</view>',
        {
            "wxs/array.wxs": ARRAY_WXS,
            "wxs/utils.wxs": "var array = require('./array.wxs');\nmodule.exports = {isArray: array.isArray};",
        },
    )
    assert r({"a": [], "o": {}})[0]["c"] == [{"x": "true false"}]


def test_get_regexp_and_get_date(page):
    r = page(
        "<wxs module=\"m\">module.exports = { t: function (s) { return getRegExp('^a+$', 'i').test(s); },"
        " y: function () { return getDate(2020, 0, 2).getFullYear() + '-' + getDate('2021-05-06T00:00:00Z').getUTCDate(); } };</wxs>"
        "<view>{{m.t('AAA')}} {{m.t('b')}} {{m.y()}}</view>"
    )
    assert r()[0]["c"] == [{"x": "true false 2020-6"}]


def test_globals_are_hidden_from_wxs(page):
    r = page(
        '<wxs module="m">module.exports = function () { return [typeof wx, typeof getApp, typeof setTimeout,'
        " typeof globalThis, typeof window, typeof Date, typeof Promise, typeof App, typeof WD,"
        " typeof Math, typeof JSON].join(); };</wxs><view>{{m()}}</view>"
    )
    assert (
        r()[0]["c"][0]["x"]
        == "undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,object,object"
    )


def test_module_instantiated_once_per_load(page):
    r = page(
        '<wxs module="c">var n = 0; module.exports = function () { n = n + 1; return n; };</wxs><view>{{c()}}</view>',
    )
    assert r()[0]["c"] == [{"x": "1"}]
    assert r()[0]["c"] == [{"x": "2"}]


def test_wxs_in_strings_and_comments_is_not_rewritten(page):
    r = page(
        '<wxs module="m">// x.constructor\nmodule.exports = function () { return "a.constructor" + /\\.constructor/.source; };</wxs>'
        "<view>{{m()}}</view>"
    )
    assert r()[0]["c"] == [{"x": "a.constructor\\.constructor"}]


def test_forbidden_constructs_are_compile_errors(errors):
    out = errors(
        {
            "utils/bad.wxs": "var g = this;\nvar f = Function('return 1');\neval('1');\nvar c = [].__proto__;\n"
            "var k = {}['constructor'];\nvar m = __mb_wc;\n",
        }
    )
    assert out == [
        "utils/bad.wxs:1:9: 'this' is not available in WXS [wxs-forbidden]",
        "utils/bad.wxs:2:9: 'Function' is not available in WXS [wxs-forbidden]",
        "utils/bad.wxs:3:1: 'eval' is not available in WXS [wxs-forbidden]",
        "utils/bad.wxs:4:12: '__proto__' is not available in WXS [wxs-forbidden]",
        "utils/bad.wxs:5:12: the string 'constructor' is not allowed in WXS [wxs-forbidden]",
        "utils/bad.wxs:6:9: '__mb_wc' is not available in WXS [wxs-forbidden]",
    ]


def test_inline_wxs_errors_point_into_the_wxml_file(errors):
    out = errors({P: '<view/>\n<wxs module="m">\nvar x = 1;\nvar y = require("./missing.wxs");\n</wxs>'})
    assert out == [f"{P}:4:17: required wxs module not found: ./missing.wxs [wxs-require]"]


def test_unterminated_string_in_wxs(errors):
    assert errors({"a.wxs": "var s = 'abc;\n"}) == ["a.wxs:1:9: unterminated string literal [wxs-syntax]"]


def test_wxs_never_runs_in_the_host(build):
    bundle = build({P: '<wxs module="a" src="/a.wxs"/><view/>', "a.wxs": "module.exports = 1; while (true) {}"})
    assert "while (true) {}" in bundle.render_js


def test_unknown_string_escapes_keep_their_backslash_like_wechat(page):
    r = page(
        '<wxs module="u" src="/wxs/add-unit.wxs"/><view style="width:{{u(size)}};height:{{u(h)}}">{{u.q}}</view>',
        {
            "wxs/add-unit.wxs": "var REGEXP = getRegExp('^-?\\d+(\\.\\d+)?$');\n"
            "function addUnit(value) { if (value == null) { return undefined; }\n"
            "  return REGEXP.test('' + value) ? value + 'px' : value; }\n"
            "addUnit.q = 'tab\\there \\'q\\' \\\\d';\nmodule.exports = addUnit;\n"
        },
    )
    (v,) = r({"size": 20, "h": "50%"})
    assert v["st"] == "width:20px;height:50%"
    assert v["c"] == [{"x": "tab\there 'q' \\d"}]


def test_wxs_cannot_break_out_of_its_wrapper(errors):
    out = errors(
        {
            "a.wxs": "module.exports = 1;\n}}; wx.request({});\nWD['x'] = {f: function () {",
            "b.wxs": "var a = (1;",
        }
    )
    assert out == ["a.wxs:2:1: unbalanced '}' [wxs-syntax]", "b.wxs:1:9: unclosed '(' [wxs-syntax]"]


def test_expressions_cannot_reach_function_constructor(page):
    r = page(
        "<view>{{a.constructor.constructor('return globalThis')()}}|{{s.sub.constructor}}|"
        "{{f['constructor']}}|{{a['__proto__']}}</view>"
    )
    assert r({"a": [], "s": "x", "f": {}})[0]["c"] == [{"x": "|||"}]


def test_es5_names_that_js_now_reserves_are_renamed(page):
    # WeChat's wcc accepts these (iview-weapp's step component uses `var class`); properties keep their names
    r = page(
        '<wxs module="m">var class = "a"; var enum = 2;\n'
        "module.exports = { c: function () { var o = {class: class, enum: enum}; return o.class + o.enum } };"
        "</wxs><view>{{m.c()}}</view>"
    )
    assert r()[0]["c"] == [{"x": "a2"}]
