"""Conformance: every @vant/weapp component rendered by minibox and by glass-easel, compared.

    .venv/bin/python bench/conformance_vant.py [component ...]

glass-easel (WeChat's open-source rewrite of its component framework, run with Node and jsdom) is the
reference. Both trees are normalised the same way: element tag, class list, text, child order and the
attributes both sides render; then compared. Prints one line per component and a total.

Normalisation (and why):
- text nodes: whitespace collapsed and trimmed, empty ones dropped (WXML whitespace is not rendered).
- `<slot>` and virtual nodes: replaced by their children (glass-easel renders no element for them;
  minibox keeps a slot element in the view for the light DOM).
- classes: split and sorted (order has no meaning in CSS).
- attributes: `id`, `hidden` and `style` (with spaces and a trailing `;` removed) are compared. Other
  attributes of built-ins are view properties in minibox (glass-easel's DOM backend writes them as
  strings, which says nothing about what WeChat's view does with them), so they are not compared.
- ids and classes: glass-easel prefixes them with the component's style scope (`b520198b--van-toast`,
  `__0ee78d8c--van-icon`) and minibox with its own (`c1a2b3c--van-toast`, plus a `--_host` marker on
  host elements for `:host`): both are style isolation with different names, so prefixes and markers
  are removed before comparing.

Where the reference differs from WeChat, render_glass_easel.js adapts it (each with its reason there):
- `ready` is fired by the harness after the first render (WeChat's page host does it; glass-easel
  leaves it to the embedder).
- `writeIdToDOM` is on (WeChat's view has the ids).
- WXS: `x.constructor` gives a type name, and unknown string escapes (`'\\d'`) keep their backslash,
  as in WeChat's WXS; the template compiler's runtime runs WXS as plain JS.
- a property named `dataset` (vant's button) crashes glass-easel's component caller; it is dropped in
  the reference (it only feeds a data- attribute, which is not compared).
- `getRegExp`/`getDate` (WXS built-ins) and inert `wx.createCanvasContext`/`wx.createAnimation`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minibox.testing import launch  # noqa: E402
from tests.components.vant import build_vant_project, glass_easel_modules, vant_components, vant_lib  # noqa: E402

RENDERER = ROOT / "tests" / "components" / "conformance" / "render_glass_easel.js"
SETTLE_MS = 1000  # both sides let timers (transitions, nextTick) run this long before the snapshot
NODE_TIMEOUT = 300
COMPARED_ATTRS = ("id", "hidden", "style")
_ID_PREFIX = re.compile(r"^(__)?[0-9a-f]{8}--")
# glass-easel prefixes class names with the component's style scope (`__0ee78d8c--van-icon`): that
# is its style isolation, as minibox's own prefixes are; both are removed.
_SCOPE_PREFIX = re.compile(r"^__[0-9a-f]{8}--")
# WXML names that are virtual in glass-easel (no element of their own)
VIRTUAL_TAGS = frozenset({"slot", "virtual", "wx-virtual"})

# Beyond default props: the components in the states a bank app shows them in. name -> (WXML, data)
SCENARIOS: dict[str, tuple[str, str]] = {
    "button--variants": (
        "<van-button type='primary' size='large' block round icon='star-o'>Pay</van-button>"
        "<van-button type='info' loading loading-text='Paying'/>"
        "<van-button type='danger' plain hairline disabled custom-class='x'>No</van-button>", "{}"),
    "cell--group": (
        "<van-cell-group inset title='Account'><van-cell title='Balance' value='100.00' label='CNY' is-link required"
        " icon='gold-coin-o'/><van-cell title='Card' border='{{false}}' center arrow-direction='down' is-link/>"
        "<van-cell><view slot='title'>Custom <text>title</text></view></van-cell></van-cell-group>", "{}"),
    "field--filled": (
        "<van-field label='Amount' value='12' placeholder='0.00' required clearable error-message='Too much'"
        " type='digit' input-align='right'/><van-field label='Memo' type='textarea' value='{{memo}}'/>"
        "<van-field value='x' left-icon='contact' right-icon='warning-o' border='{{false}}'>"
        "<van-button slot='button' size='small'>Send</van-button></van-field>", "{memo: 'rent'}"),
    "checkbox--group": (
        "<van-checkbox-group value='{{picked}}'><van-checkbox name='a'>A</van-checkbox>"
        "<van-checkbox name='b' shape='square'>B</van-checkbox><van-checkbox name='c' disabled>C</van-checkbox>"
        "</van-checkbox-group><van-checkbox value='{{true}}' label-position='left' checked-color='#07c160'>Agree</van-checkbox>",
        "{picked: ['a']}"),
    "radio--group": (
        "<van-radio-group value='2' direction='horizontal'><van-radio name='1'>One</van-radio>"
        "<van-radio name='2' icon-size='24px'>Two</van-radio></van-radio-group>", "{}"),
    "switch--on": ("<van-switch checked size='20px' active-color='#07c160'/><van-switch loading/>", "{}"),
    "stepper--values": ("<van-stepper value='2' min='1' max='5' integer/><van-stepper value='5' max='5' theme='round'/>",
                        "{}"),
    "tabs--three": (
        "<van-tabs active='{{1}}'><van-tab title='In'>incoming</van-tab><van-tab title='Out' dot>outgoing</van-tab>"
        "<van-tab title='All' disabled info='9'>all</van-tab></van-tabs>", "{}"),
    "collapse--open": (
        "<van-collapse value='{{open}}'><van-collapse-item title='Fees' name='fees' value='0.00'>none</van-collapse-item>"
        "<van-collapse-item title='Limits' name='limits' icon='info-o'>5000</van-collapse-item></van-collapse>",
        "{open: ['fees']}"),
    "search--action": ("<van-search value='alice' placeholder='Payee' show-action shape='round' label='To'/>", "{}"),
    "picker--columns": ("<van-picker show-toolbar title='Currency' columns='{{cur}}' default-index='{{1}}'/>",
                        "{cur: ['CNY', 'USD', 'EUR']}"),
    "datetime-picker--date": (
        "<van-datetime-picker type='date' value='{{1700000000000}}' min-date='{{946684800000}}'"
        " max-date='{{1893456000000}}'/>", "{}"),
    "dialog--shown": ("<van-dialog show title='Confirm' message='Send 10.00?' show-cancel-button/>", "{}"),
    "popup--bottom": ("<van-popup show position='bottom' round closeable><view>Sheet</view></van-popup>", "{}"),
    "action-sheet--actions": (
        "<van-action-sheet show title='Pay with' actions='{{acts}}' cancel-text='Cancel'/>",
        "{acts: [{name: 'Card'}, {name: 'Balance', subname: '12.00', color: '#ee0a24'}, {name: 'Off', disabled: true}]}"),
    "tag--types": ("<van-tag type='primary'>new</van-tag><van-tag plain round size='large' color='#f00'>hot</van-tag>"
                   "<van-tag mark closeable type='success'>ok</van-tag>", "{}"),
    "steps--progress": ("<van-steps steps='{{steps}}' active='{{1}}'/>",
                        "{steps: [{text: 'Apply', desc: 'd1'}, {text: 'Review'}, {text: 'Done'}]}"),
    "notice-bar--text": ("<van-notice-bar left-icon='volume-o' text='Maintenance tonight' mode='closeable'/>", "{}"),
    "nav-bar--title": ("<van-nav-bar title='Transfer' left-text='Back' left-arrow right-text='Help'/>", "{}"),
    "grid--items": ("<van-grid column-num='3'><van-grid-item icon='photo-o' text='Pay'/><van-grid-item icon='gift-o'"
                    " text='Gift' badge='3'/><van-grid-item icon='chat-o' text='Chat' dot/></van-grid>", "{}"),
    "tabbar--items": ("<van-tabbar active='{{0}}'><van-tabbar-item icon='home-o'>Home</van-tabbar-item>"
                      "<van-tabbar-item icon='friends-o' info='5'>Me</van-tabbar-item></van-tabbar>", "{}"),
    "sidebar--items": ("<van-sidebar active-key='{{1}}'><van-sidebar-item title='A'/><van-sidebar-item title='B' dot/>"
                       "</van-sidebar>", "{}"),
    "progress--half": ("<van-progress percentage='50' pivot-text='half' color='#07c160'/>", "{}"),
    "rate--three": ("<van-rate value='{{3}}' count='5' allow-half/>", "{}"),
    "empty--text": ("<van-empty image='search' description='No payees'/>", "{}"),
    "loading--spinner": ("<van-loading type='spinner' size='24px' vertical>Loading</van-loading>", "{}"),
    "divider--text": ("<van-divider content-position='left' dashed>Today</van-divider>", "{}"),
    "submit-bar--price": ("<van-submit-bar price='{{3050}}' button-text='Pay' tip='Fee included'/>", "{}"),
    "card--goods": ("<van-card num='2' price='2.00' desc='desc' title='Gold' thumb='x.png' tag='new'/>", "{}"),
    "row--cols": ("<van-row gutter='20'><van-col span='8'>a</van-col><van-col span='8' offset='8'>b</van-col></van-row>",
                  "{}"),
    "count-down--time": ("<van-count-down time='{{3600000}}' format='HH:mm:ss' auto-start='{{false}}'/>", "{}"),
    "uploader--files": ("<van-uploader file-list='{{files}}' max-count='2'/>", "{files: [{url: 'a.png', name: 'a'}]}"),
    "slider--value": ("<van-slider value='{{40}}' bar-height='4px'/>", "{}"),
    "area--list": ("<van-area area-list='{{areas}}' value='110101' columns-num='{{3}}' title='Region'/>",
                   "{areas: {province_list: {110000: 'Beijing', 120000: 'Tianjin'}, city_list: {110100: 'Beijing',"
                   " 120100: 'Tianjin'}, county_list: {110101: 'Dongcheng', 110102: 'Xicheng', 120101: 'Heping'}}}"),
    "cascader--options": ("<van-cascader title='Region' options='{{opts}}' value='b1'/>",
                          "{opts: [{text: 'A', value: 'a', children: [{text: 'A1', value: 'a1'}]},"
                          " {text: 'B', value: 'b', children: [{text: 'B1', value: 'b1'}]}]}"),
    "dropdown-menu--items": ("<van-dropdown-menu><van-dropdown-item value='{{0}}' options='{{opts}}'/>"
                             "<van-dropdown-item title='Sort'/></van-dropdown-menu>",
                             "{opts: [{text: 'All', value: 0}, {text: 'New', value: 1}]}"),
    "index-bar--anchors": ("<van-index-bar index-list='{{list}}'><van-index-anchor index='A'/><view>Alice</view>"
                           "<van-index-anchor index='B'/><view>Bob</view></van-index-bar>", "{list: ['A', 'B']}"),
    "overlay--shown": ("<van-overlay show z-index='{{10}}'><view class='in'>x</view></van-overlay>", "{}"),
    "share-sheet--options": ("<van-share-sheet show title='Share' options='{{opts}}'/>",
                             "{opts: [{name: 'WeChat', icon: 'wechat'}, {name: 'Link', icon: 'link'}]}"),
    "skeleton--rows": ("<van-skeleton title avatar row='{{3}}' loading><view>real</view></van-skeleton>"
                       "<van-skeleton loading='{{false}}'><view>content</view></van-skeleton>", "{}"),
    "swipe-cell--slots": ("<van-swipe-cell right-width='{{65}}' left-width='{{65}}'><view slot='left'>L</view>"
                          "<van-cell title='Row'/><view slot='right'>Delete</view></van-swipe-cell>", "{}"),
    "transition--slide": ("<van-transition show name='slide-up' duration='{{200}}'><view>moving</view></van-transition>",
                          "{}"),
    "tree-select--items": ("<van-tree-select items='{{items}}' main-active-index='{{0}}' active-id='{{1}}'/>",
                           "{items: [{text: 'Zhejiang', children: [{text: 'Hangzhou', id: 1}, {text: 'Wenzhou', id: 2}]},"
                           " {text: 'Jiangsu', children: [{text: 'Nanjing', id: 3}]}]}"),
    "image--src": ("<van-image width='100' height='100' src='a.png' round lazy-load show-menu-by-longpress/>"
                   "<van-image src='' use-error-slot><view slot='error'>failed</view></van-image>", "{}"),
    "circle--value": ("<van-circle value='{{30}}' text='30%' size='{{120}}' stroke-width='{{6}}'/>", "{}"),
    "goods-action--buttons": ("<van-goods-action><van-goods-action-icon icon='chat-o' text='Chat'/>"
                              "<van-goods-action-icon icon='cart-o' text='Cart' info='5'/>"
                              "<van-goods-action-button text='Add' type='warning'/>"
                              "<van-goods-action-button text='Buy'/></van-goods-action>", "{}"),
    "panel--content": ("<van-panel title='Order' desc='#42' status='Paid'><view>body</view>"
                       "<view slot='footer'>footer</view></van-panel>", "{}"),
    "calendar--shown": ("<van-calendar show poppable='{{false}}' min-date='{{1700000000000}}'"
                        " max-date='{{1702592000000}}' default-date='{{1700600000000}}' show-confirm='{{false}}'/>", "{}"),
    "config-provider--theme": ("<van-config-provider theme-vars='{{vars}}'><van-button type='primary'>T</van-button>"
                               "</van-config-provider>", "{vars: {buttonPrimaryBackgroundColor: '#07c160'}}"),
    "notify--component": ("<van-notify id='van-notify'/>", "{}"),
    "info--badge": ("<van-info info='99+'/><van-info dot/>", "{}"),
}

# Differences that are minibox's, known and not yet fixed: name -> why. They are printed as DIFF and
# counted as not identical; the exit code (and the test) fail only on differences not listed here.
KNOWN_GAPS: dict[str, str] = {
    "circle--value": "wx.createCanvasContext is not in minibox's wx (canvas drawing needs the view)",
}

SYSTEM_PAGE = """Page({ info() { return { system: wx.getSystemInfoSync(),
  nextTick: !!(wx.canIUse && wx.canIUse('nextTick')) }; } })"""


def _style(value: Any) -> str:
    text = str(value or "")
    decls = [d.strip() for d in text.split(";") if d.strip()]
    return ";".join(re.sub(r"\s*:\s*", ":", d) for d in decls)


def normalise(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalise a list of trees in the common shape {t, cls, a, c} / {x}."""
    out: list[dict[str, Any]] = []
    for n in nodes:
        if "x" in n:
            text = re.sub(r"\s+", " ", str(n["x"])).strip()
            if text:
                if out and "x" in out[-1]:
                    out[-1]["x"] = (out[-1]["x"] + " " + text).strip()
                else:
                    out.append({"x": text})
            continue
        kids = normalise(n.get("c", []))
        if n["t"] in VIRTUAL_TAGS:
            out.extend(kids)
            continue
        attrs: dict[str, str] = {}
        for name in COMPARED_ATTRS:
            v = n.get("a", {}).get(name)
            if v is None or v is False or v == "":
                continue
            if name == "style":
                v = _style(v)
                if not v:
                    continue
            elif name == "id":
                v = _ID_PREFIX.sub("", str(v))
            elif name == "hidden":
                v = "true"
            attrs[name] = str(v)
        classes = {_SCOPE_PREFIX.sub("", c) for c in str(n.get("cls", "")).split()}
        out.append({"t": n["t"], "cls": sorted(classes), "a": attrs, "c": kids})
    return out


def _from_view(node: Any) -> dict[str, Any]:
    if node.tag == "#text":
        return {"x": node.text}
    attrs = dict(node.attrs)
    if node.style:
        attrs["style"] = node.style
    # Node.classes drops minibox's own scope prefixes (`c1a2b3c--x`) and the :host marker
    return {"t": node.tag, "cls": " ".join(node.classes), "a": attrs, "c": [_from_view(c) for c in node.children]}


def minibox_trees(project: Path, pages: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    trees: dict[str, Any] = {}
    with launch(project, path=pages[0]) as mp:
        info = mp.current_page.call_method("info") if pages[0].endswith("__system/index") else None
        for page in pages[1:] if info else pages:
            n0 = len(mp.errors)
            mp.relaunch("/" + page)
            mp.advance(SETTLE_MS)
            errs = mp.errors[n0:]
            if errs:
                trees[page] = {"error": errs[0].get("message", "")}
                continue
            trees[page] = [_from_view(c) for c in mp.current_page.root.node.children]
    return trees, info or {}


def glass_easel_trees(project: Path, pages: list[str], info: dict[str, Any]) -> dict[str, Any]:
    spec = {"modules": str(glass_easel_modules()), "root": str(project), "pages": pages,
            "system": info.get("system", {}), "canIUse": {"nextTick": info.get("nextTick", False)},
            "settleMs": SETTLE_MS}
    with tempfile.TemporaryDirectory(prefix="minibox-glass-easel-") as tmp:
        spec_file, out_file = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec["out"] = str(out_file)
        spec_file.write_text(json.dumps(spec))
        proc = subprocess.run(["node", str(RENDERER), str(spec_file)], capture_output=True, text=True,
                              timeout=NODE_TIMEOUT, check=False)
        if proc.returncode != 0 or not out_file.exists():
            raise RuntimeError(f"glass-easel renderer failed: {proc.stderr[-3000:]}")
        return json.loads(out_file.read_text())


def first_difference(a: list[dict[str, Any]], b: list[dict[str, Any]], where: str = "") -> str | None:
    """A short description of the first place where two normalised trees differ."""
    for i in range(max(len(a), len(b))):
        here = f"{where}/{i}"
        if i >= len(a):
            return f"{here}: minibox lacks {json.dumps(b[i])[:160]}"
        if i >= len(b):
            return f"{here}: minibox has extra {json.dumps(a[i])[:160]}"
        x, y = a[i], b[i]
        if ("x" in x) != ("x" in y):
            return f"{here}: {json.dumps(x)[:100]} vs {json.dumps(y)[:100]}"
        if "x" in x:
            if x["x"] != y["x"]:
                return f"{here}: text {x['x']!r} vs {y['x']!r}"
            continue
        for key in ("t", "cls", "a"):
            if x[key] != y[key]:
                return f"{here}<{x['t']}>: {key} {x[key]} vs {y[key]}"
        sub = first_difference(x["c"], y["c"], f"{here}<{x['t']}>")
        if sub:
            return sub
    return None


def main(argv: list[str]) -> int:
    lib = vant_lib()
    components = vant_components(lib)
    wanted = argv or [*components, *SCENARIOS]
    names = [n for n in wanted if n in components or n in SCENARIOS]
    work = Path(tempfile.mkdtemp(prefix="minibox-conformance-"))
    pages_wxml = {"__system": "<view/>"}
    scripts = {"__system": SYSTEM_PAGE}
    for n in names:
        if n in SCENARIOS:
            pages_wxml[n], data = SCENARIOS[n]
            scripts[n] = f"Page({{ data: {data} }})"
        else:
            pages_wxml[n] = f"<van-{n} />"
    using = {f"van-{c}": c for c in components}
    project = build_vant_project(work / "project", pages_wxml, using=using, scripts=scripts)
    # the system page uses no component
    (project / "pages" / "__system" / "index.json").write_text("{}")
    pages = [f"pages/{n}/index" for n in ["__system", *names]]
    mine, info = minibox_trees(project, pages)
    ref = glass_easel_trees(project, pages[1:], info)
    same = 0
    unexpected = []
    for name, page in zip(names, pages[1:], strict=True):
        a, b = mine.get(page), ref.get(page)
        if isinstance(b, dict):
            print(f"REF-ERROR {name}: {b.get('error', '')[:200]}")
            unexpected.append(name)
            continue
        diff = (f"minibox error {a.get('error', '')[:200]}" if isinstance(a, dict)
                else first_difference(normalise(a or []), normalise(b or [])))
        if diff is None:
            same += 1
            print(f"SAME  {name}")
            continue
        known = KNOWN_GAPS.get(name)
        print(f"DIFF  {name}: {diff}" + (f"  [known gap: {known}]" if known else ""))
        if not known:
            unexpected.append(name)
    print(f"TOTAL {same}/{len(names)} identical ({100.0 * same / max(1, len(names)):.1f}%)"
          + (f"; unexpected differences: {', '.join(unexpected)}" if unexpected else ""))
    return 1 if unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
