"""Component(): properties (types, conversion, observers), data, methods, observers, pureDataPattern.

The behaviours pinned here follow glass-easel's data_proxy (convertValueToType, property comparer,
observer path tree) and WeChat's documentation.
"""

from __future__ import annotations

from minibox.testing import launch

PROPS_JS = """
Component({
  properties: {
    s: String, n: Number, b: Boolean, arr: Array, obj: Object, any: null,
    sd: { type: String, value: 'dflt' },
    nd: { type: Number, value: 7 },
    multi: { type: Number, optionalTypes: [String], value: 1 },
    watched: { type: String, value: 'w0', observer(n, o) { this.data.log.push('watched:' + o + '->' + n + ':' + arguments.length) } },
    named: { type: Number, value: 0, observer: 'onNamed' },
    camelCase: { type: String, value: '' },
  },
  data: { log: [] },
  methods: {
    onNamed(n, o) { this.data.log.push('named:' + o + '->' + n) },
    types() {
      const d = this.data;
      return { s: d.s, n: d.n, b: d.b, arr: d.arr, obj: d.obj, any: d.any, sd: d.sd, nd: d.nd, multi: d.multi, camelCase: d.camelCase };
    },
    log() { return this.data.log },
    setOwn(v) { this.setData({ watched: v }) },
    setNumber(v) { this.setData({ n: v }) },
    same() { return this.data === this.properties },
  },
})
"""


def _props_project(make_project, page_wxml: str, page_js: str = "Page({data: {}})"):
    return make_project({
        "pages/p/p.wxml": page_wxml, "pages/p/p.js": page_js,
        "pages/p/p.json": {"usingComponents": {"c-p": "/comp/p"}},
        "comp/p.js": PROPS_JS, "comp/p.json": {"component": True},
        "comp/p.wxml": "<view class='v'>{{s}}|{{n}}|{{b}}|{{sd}}|{{nd}}|{{camelCase}}</view>",
    })


def test_defaults_and_conversion(make_project) -> None:
    project = _props_project(make_project, """
      <c-p id="d"/>
      <c-p id="x" s="{{5}}" n="{{'12'}}" b="{{'yes'}}" arr="{{'no'}}" obj="{{3}}" any="{{v}}"
           nd="{{'abc'}}" multi="{{'text'}}" camel-case="kebab"/>
    """, "Page({data: {v: {k: 1}}})")
    with launch(project) as mp:
        d = mp.current_page.query_selector("#d").call_method("types")
        assert d == {"s": "", "n": 0, "b": False, "arr": [], "obj": None, "any": None, "sd": "dflt", "nd": 7,
                     "multi": 1, "camelCase": ""}
        x = mp.current_page.query_selector("#x").call_method("types")
        # String() of a number; a numeric string to Number; !! for Boolean; a wrong type gives the default
        assert x["s"] == "5" and x["n"] == 12 and x["b"] is True
        assert x["arr"] == [] and x["obj"] is None and x["any"] == {"k": 1}
        assert x["nd"] == 7
        assert x["multi"] == "text"  # optionalTypes accepts a string as it is
        assert x["camelCase"] == "kebab"  # kebab-case attribute fills the camelCase property
        assert mp.current_page.query_selector("#x .v").text == "5|12|true|dflt|7|kebab"
        assert mp.current_page.query_selector("#x").call_method("same") is True


def test_property_observer_fires_on_change_only(make_project) -> None:
    project = _props_project(make_project, """<c-p id="c" watched="{{w}}" named="{{k}}"/>""",
                             "Page({data: {w: 'w0', k: 1}, set(d) { this.setData(d) }})")
    with launch(project) as mp:
        c = mp.current_page.query_selector("#c")
        # initial 'w0' equals the default: no call; named 0 -> 1 fires
        assert c.call_method("log") == ["named:0->1"]
        mp.current_page.call_method("set", {"w": "w1"})
        mp.current_page.call_method("set", {"w": "w1", "k": 1})  # same values: no observer
        assert c.call_method("log") == ["named:0->1", "watched:w0->w1:2"]
        c.call_method("setOwn", "w2")  # setData on a property fires its observer too
        assert c.call_method("log")[-1] == "watched:w1->w2:2"
        c.call_method("setNumber", "42")  # setData keeps the property's type
        assert c.data["n"] == 42


OBSERVERS_JS = """
Component({
  data: { a: { b: { c: 1 } }, x: 1, y: 2, list: [1, 2], calls: [] },
  observers: {
    'x, y': function (x, y) { this.data.calls.push('xy:' + x + ',' + y) },
    'a.b': function (b) { this.data.calls.push('a.b:' + JSON.stringify(b)) },
    'a.b.**': function (b) { this.data.calls.push('a.b.**') },
    'list[1]': function (v) { this.data.calls.push('list[1]:' + v) },
    '**': function (all) { this.data.calls.push('**') },
  },
  methods: {
    run(patch) { this.data.calls = []; this.setData(patch); return this.data.calls },
  },
})
"""


def test_data_observers_paths_and_wildcards(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-o id='o'/>", "pages/p/p.json": {"usingComponents": {"c-o": "/comp/o"}},
        "comp/o.js": OBSERVERS_JS, "comp/o.wxml": "<view>{{x}}</view>", "comp/o.json": {"component": True},
    })
    with launch(project) as mp:
        o = mp.current_page.query_selector("#o")
        # two fields in one setData: the multi-field observer runs once
        assert o.call_method("run", {"x": 5, "y": 6}) == ["xy:5,6", "**"]
        # same value still triggers (WeChat observers fire on every set)
        assert o.call_method("run", {"x": 5}) == ["xy:5,6", "**"]
        # a parent of the watched path triggers it; a deeper change only the ** observer
        assert o.call_method("run", {"a": {"b": {"c": 2}}}) == ['a.b:{"c":2}', "a.b.**", "**"]
        assert o.call_method("run", {"a.b.c": 3}) == ["a.b.**", "**"]
        assert o.call_method("run", {"list[1]": 9}) == ["list[1]:9", "**"]
        assert o.call_method("run", {"list": [0, 8]}) == ["list[1]:8", "**"]
        assert mp.current_page.query_selector("#o").text == "5"


def test_observer_set_data_chain_and_pure_data(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-c id='c'/>", "pages/p/p.json": {"usingComponents": {"c-c": "/comp/c"}},
        "comp/c.js": """
          Component({
            options: { pureDataPattern: /^_/ },
            data: { a: 1, sum: 0, _secret: 's' },
            observers: { a(a) { this.setData({ sum: a * 10, _secret: 'x' + a }) } },
            methods: { bump() { this.setData({ a: this.data.a + 1 }) }, secret() { return this.data._secret } },
          })""",
        "comp/c.wxml": "<view>{{a}}/{{sum}}/{{_secret}}</view>", "comp/c.json": {"component": True},
    })
    with launch(project) as mp:
        c = mp.current_page.query_selector("#c")
        c.call_method("bump")
        # the pure-data field is kept in this.data but never rendered
        assert mp.current_page.query_selector("#c").text == "2/20/"
        assert c.call_method("secret") == "x2"


def test_methods_this_fields(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-t id='t1' data-role='main' class='k'/>",
        "pages/p/p.json": {"usingComponents": {"c-t": "/comp/t"}},
        "comp/t.js": """Component({ methods: { me() { return { id: this.id, is: this.is, dataset: this.dataset,
                          owner: this.selectOwnerComponent().is, page: typeof this.getPageId() } } } })""",
        "comp/t.wxml": "<view/>", "comp/t.json": {"component": True},
    })
    with launch(project) as mp:
        me = mp.current_page.query_selector("#t1").call_method("me")
        assert me == {"id": "t1", "is": "comp/t", "dataset": {"role": "main"}, "owner": "pages/p/p", "page": "string"}


def test_instances_do_not_share_data(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<c-l id='a'/><c-l id='b'/>", "pages/p/p.json": {"usingComponents": {"c-l": "/comp/l"}},
        "comp/l.js": """Component({ properties: { items: { type: Array, value: [1] } }, data: { obj: { n: 0 } },
          methods: { mutate() { this.data.items.push(2); this.data.obj.n = 5; this.setData({ items: this.data.items }) } } })""",
        "comp/l.wxml": "<view>{{items.length}}/{{obj.n}}</view>", "comp/l.json": {"component": True},
    })
    with launch(project) as mp:
        page = mp.current_page
        page.query_selector("#a").call_method("mutate")
        assert page.query_selector("#a").text == "2/5"
        assert page.query_selector("#b").text == "1/0"
        assert page.query_selector("#b").data["items"] == [1]


def test_property_observer_setting_own_value_back_does_not_loop(make_project) -> None:
    # weui-miniprogram's slideview: the `buttons` observer decorates this.data.buttons and sets it back.
    # WeChat compares the object it is given with the stored one (===): the same object is no change,
    # so the observer does not fire again (minibox recursed until the stack overflowed). A new object
    # with the same content is a change.
    project = make_project({
        "pages/p/p.wxml": "<c-s id='s' buttons='{{b}}'/>", "pages/p/p.js": "Page({data: {b: [{t: 'x'}]}})",
        "pages/p/p.json": {"usingComponents": {"c-s": "/comp/s"}},
        "comp/s.json": {"component": True}, "comp/s.wxml": "<view wx:for='{{buttons}}'>{{item.cls}}</view>",
        "comp/s.js": """
          Component({
            properties: { buttons: { type: Array, value: [], observer() { this.decorate() } } },
            data: { calls: 0 },
            ready() { this.decorate() },
            methods: {
              decorate() {
                this.data.calls += 1;
                const b = this.data.buttons;
                b.forEach(x => { x.cls = 'c-' + x.t });
                this.setData({ buttons: b });
              },
              copy() { this.setData({ buttons: this.data.buttons.slice() }) },
              calls() { return this.data.calls },
            },
          })""",
    })
    with launch(project) as mp:
        assert mp.errors == []
        s = mp.current_page.query_selector("#s")
        assert s.text == "c-x"
        assert s.call_method("calls") == 2  # the initial property value, then ready
        s.call_method("copy")  # a new array: the observer fires (and its own set-back does not)
        assert s.call_method("calls") == 3
        assert mp.errors == []
