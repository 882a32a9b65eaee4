"""VIEW-01..04, 07: what the browser view refuses, in Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from minibox.view.devserver import DevServer

from .conftest import Sim, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def page_sim(sim: Sim) -> Sim:
    return sim.open()


def _pwned(sim: Sim) -> Any:
    return sim.page.evaluate("() => window.__pwned")


def test_bound_markup_stays_text(page_sim: Sim) -> None:
    sim = page_sim
    data = sim.data()
    assert sim.q("#msg").inner_text() == data["msg"]
    assert sim.page.locator("wx-text#msg img").count() == 0
    assert sim.q("#attr").get_attribute("class") == data["cls"]
    assert sim.q("#attr").get_attribute("onmouseover") is None
    texts = sim.page.locator("wx-view.for").all_inner_texts()
    assert texts == data["payloads"]
    assert sim.page.locator("wx-view.for b, wx-view.for script").count() == 0
    sim.q("#attr").hover()
    assert _pwned(sim) is None


def test_payloads_set_later_stay_text(page_sim: Sim) -> None:
    sim = page_sim
    payload = '<svg onload="window.__pwned=9"></svg>'
    sim.instance.command("setPageData", {"page": sim.top_page_id(), "data": {"msg": payload, "payloads": [payload]}})
    wait_for(lambda: sim.q("#msg").inner_text() == payload, "the new text")
    assert sim.page.locator("wx-page svg").count() == 0
    assert _pwned(sim) is None


def test_rich_text_allowlist(page_sim: Sim) -> None:
    sim = page_sim
    rt = sim.page.locator("wx-rich-text#rt")
    assert rt.locator("p.p b").inner_text() == "there"
    assert rt.locator("script, iframe").count() == 0
    assert rt.locator("img").evaluate_all("l => l.map(i => i.getAttributeNames())") == [[]]  # no src, no onerror
    assert rt.locator("a").get_attribute("href") is None
    node = sim.page.locator("wx-rich-text#rtn .wx-rich-text-content > div")
    assert node.inner_text() == "node text"
    assert node.get_attribute("id") is None and node.get_attribute("onclick") is None
    assert node.evaluate("d => d.style.color") == "red"
    assert node.evaluate("d => d.style.backgroundImage") == ""
    assert sim.page.locator("wx-rich-text#rtn svg").count() == 0 and "gone" not in sim.page.locator("wx-rich-text#rtn").inner_text()
    assert _pwned(sim) is None


@pytest.mark.parametrize("html", [
    '<noscript><p title="</noscript><img src=x onerror=window.__pwned=10>"></p></noscript>',
    '<svg><style><img src=x onerror=window.__pwned=11></style></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=12>',
    '<form><math><mtext></form><form><mglyph><style></math><img src onerror=window.__pwned=13>',
    '<a href="jav&#x09;ascript:window.__pwned=14">x</a><base href="javascript:/">',
    '<img src="javascript:window.__pwned=15"><img src="https://evil.example/x.png">',
    '<div style="background:url(javascript:window.__pwned=16);width:expression(alert(1))">s</div>',
    '<object data="javascript:window.__pwned=17"></object><embed src="x"><meta http-equiv="refresh" content="0;url=javascript:1">',
])
def test_rich_text_mutation_xss_corpus(page_sim: Sim, html: str) -> None:
    sim = page_sim
    sim.instance.command("setPageData", {"page": sim.top_page_id(), "data": {"html": html}})
    sim.settle()
    rt = sim.page.locator("wx-rich-text#rt")
    assert rt.locator("img[src^='javascript'], a[href], svg, math, style, object, embed, meta, base, form, noscript").count() == 0
    assert rt.locator("img").evaluate_all("l => l.filter(i => i.getAttribute('src')).length") == 0
    assert _pwned(sim) is None
    assert not [u for u in sim.requests if "evil.example" in u]


def test_refused_urls(page_sim: Sim) -> None:
    sim = page_sim
    assert sim.page.locator("wx-image#imgbad img").get_attribute("src") is None
    assert "scheme javascript:" in sim.wait_event("error", "imgbad")["detail"]["errMsg"]
    console = sim.page.evaluate("() => window.__mbConsole")
    assert any('refused src "javascript:' in c["text"] for c in console)
    sim.q("#navbad").click()
    sim.q("#tapper").click()
    sim.wait_event("tap", "tapper")
    assert sim.page.evaluate("() => window.__mbView.stack.length") == 1
    wait_for(lambda: any("refused url" in c["text"] for c in sim.page.evaluate("() => window.__mbConsole")), "the refusal")
    assert _pwned(sim) is None


def test_url_filter(page_sim: Sim) -> None:
    cases = {
        ("image", "javascript:alert(1)"): False, ("image", "JaVaScRiPt:alert(1)"): False,
        ("image", " javascript:alert(1)"): False, ("image", "java\tscript:alert(1)"): False,
        ("image", "vbscript:x"): False, ("image", "data:text/html,<script>1</script>"): False,
        ("image", "data:image/png;base64,iVBORw0KGgo="): True, ("image", "blob:https://a/b"): False,
        ("image", "/images/a.png"): True, ("image", "../../images/a.png"): True, ("image", "../../../a.png"): False,
        ("image", "//evil.example/a.png"): False, ("image", "https://evil.example/a.png"): False,
        ("image", "https://img.example/a.png"): True, ("image", "http://img.example/a.png"): False,
        ("image", "wxfile://tmp/a.png"): False, ("image", "/images\\..\\x"): False,
        ("webview", "https://docs.example/"): True, ("webview", "https://evil.example/"): False,
        ("webview", "/pages/x"): False, ("rich-image", "/images/a.png"): False,
    }
    for (kind, url), ok in cases.items():
        got = page_sim.page.evaluate(
            "([k, u]) => window.mbSafeUrl(k, u, {base: 'pages/index/index', assetBase: '/a/', imageHosts: ['img.example'],"
            " webviewHosts: ['docs.example']})", [kind, url])
        assert got["ok"] is ok, (kind, url, got)
    got = page_sim.page.evaluate("() => window.mbSafeUrl('image', '../../images/a b.png', {base: 'pages/index/index', assetBase: '/a/'})")
    assert got == {"ok": True, "url": "/a/images/a%20b.png"}


def test_bound_style_cannot_load_off_allowlist(page_sim: Sim) -> None:
    sim = page_sim
    overlay = sim.q("#overlay")
    assert overlay.evaluate("o => o.style.backgroundImage") == ""
    assert overlay.evaluate("o => o.style.color") == "blue"
    assert overlay.evaluate("o => getComputedStyle(o).fontSize") == f"{20 * 375 / 750:g}px"
    assert not [u for u in sim.requests if "evil.example" in u]


def test_overlay_cannot_cover_host_dialog(page_sim: Sim) -> None:
    sim = page_sim
    style = "position:fixed;top:0;left:0;right:0;bottom:0;z-index:2147483647;background:rgba(255,0,0,.5)"
    sim.instance.command("setPageData", {"page": sim.top_page_id(), "data": {"overlay": style}})
    # a tap already in flight: clicked in the same task that draws the dialog
    sim.page.evaluate("""() => {
      const root = document.getElementById('mb-host-layer').shadowRoot;
      new MutationObserver((_, obs) => {
        const b = root.querySelector('.mb-modal-confirm');
        if (b) { obs.disconnect(); b.click(); window.__clickedEarly = true; }
      }).observe(root, {childList: true, subtree: true});
    }""")
    sim.instance.command("callWx", {"name": "showModal", "args": [{"title": "Pay", "content": "100"}]})
    button = sim.page.locator("#mb-host-layer .mb-modal-confirm")
    wait_for(lambda: button.count() == 1, "the modal")
    box = button.bounding_box()
    hit = sim.page.evaluate(
        "([x, y]) => { const host = document.getElementById('mb-host-layer');"
        " const e = host.shadowRoot.elementFromPoint(x, y); return e ? e.className : null }",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit == "mb-modal-confirm"
    assert sim.page.evaluate("() => window.__clickedEarly") is True
    # a message sent after the early click has been handled, so an answer would have been too
    sim.page.evaluate("() => { const v = window.__mbView; const n = [...v.nodes.values()].find(e => e.__mb && e.__mb.attrs && e.__mb.attrs.id === 'tapper'); v.emit(n, 'tap', {x: 1, y: 1}); }")
    sim.wait_event("tap", "tapper")
    assert not sim.session.prompts[-1].answered
    sim.page.wait_for_timeout(450)
    button.click()
    wait_for(lambda: sim.session.prompts[-1].answered, "the deliberate tap answers")


def test_web_view_allowlist(page_sim: Sim, served_project: DevServer) -> None:
    sim = page_sim
    sim.instance.command("setPageData", {"page": sim.top_page_id(), "data": {"showWebview": True, "webSrc": "javascript:window.__pwned=20"}})
    err = sim.page.locator("wx-web-view#wv .wx-web-view-error")
    wait_for(lambda: err.count() == 1, "the web-view error page")
    assert "cannot be opened" in err.inner_text()
    assert sim.wait_event("error", "wv")["detail"]["src"].startswith("javascript:")
    sim.instance.command("setPageData", {"page": sim.top_page_id(), "data": {"webSrc": "https://evil.example/"}})
    wait_for(lambda: "evil.example" in err.inner_text(), "refused host")
    assert sim.page.locator("wx-web-view iframe").count() == 0
    assert _pwned(sim) is None


def test_csp_blocks_inline_script_and_eval(page_sim: Sim) -> None:
    page = page_sim.page
    result = page.evaluate("""() => new Promise(resolve => {
      const seen = [];
      document.addEventListener('securitypolicyviolation', e => seen.push(e.violatedDirective));
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.appendChild(s);
      const d = document.createElement('div');
      d.setAttribute('onclick', 'window.__inline = 2');
      document.body.appendChild(d);
      d.click();
      setTimeout('window.__evaluated = 1', 0);  // a string timer is eval: needs 'unsafe-eval'
      setTimeout(() => resolve({inline: window.__inline, evaluated: window.__evaluated, seen}), 100);
    })""")
    assert result["inline"] is None
    assert result["evaluated"] is None
    assert len([d for d in result["seen"] if d.startswith("script-src")]) >= 3


def test_security_headers(served_project: DevServer) -> None:
    r = httpx.get(served_project.url)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for path in ("/bundle/1/assets/../bundle.json", "/bundle/1/assets/%2e%2e/bundle.json", "/bundle/1/assets/logic.js",
                 "/static/../server.py", "/static/nothing.js", "/bundle/1/assets/images/none.png"):
        assert httpx.get(served_project.url.rstrip("/") + path).status_code == 404, path
    img = httpx.get(served_project.url + "bundle/1/assets/images/dot.png")
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    assert "sandbox" in img.headers["content-security-policy"]


@pytest.fixture
def socket(served_project: DevServer) -> Iterator[Any]:
    with connect(served_project.url.replace("http", "ws") + "ws") as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["t"] == "batch" and first["messages"][0]["t"] == "app"
        yield ws


def _reply(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        msg = json.loads(ws.recv(timeout=10))
        for m in msg.get("messages", [msg]):
            if m.get("t") == kind:
                return m


@pytest.mark.parametrize("bad", [
    {"t": "event", "node": 1, "type": "eval"}, {"t": "event", "node": "1", "type": "tap"},
    {"t": "navigate", "api": "navigateTo", "url": "/pages/other/other"},
    {"t": "navigate", "api": "reLaunch", "url": "/pages/nope/nope"},  # the chrome reLaunches only to the app's pages
    {"t": "navigate", "api": "reLaunch", "url": "https://evil.example/"},
    {"t": "navigate", "api": "reLaunch", "url": "/pages/other/other?a=1\n#x"},
    {"t": "navigate", "api": "reLaunch", "url": ["/pages/other/other"]}, {"t": "pageEvent", "type": "onLoad"},
    {"t": "prompt", "index": 99, "action": "confirm"}, {"t": "nope"}, [1, 2],
])
def test_socket_refuses_bad_messages(socket: Any, bad: Any) -> None:
    socket.send(json.dumps(bad))
    assert _reply(socket, "refused")["reason"]


def test_socket_refuses_huge_message(socket: Any) -> None:
    socket.send(json.dumps({"t": "event", "node": 1, "type": "tap", "detail": {"x": "a" * 300_000}}))
    assert "larger than" in _reply(socket, "refused")["reason"]


def test_socket_refuses_other_origins(served_project: DevServer) -> None:
    from websockets.exceptions import InvalidStatus

    url = served_project.url.replace("http", "ws") + "ws"
    with pytest.raises(InvalidStatus), connect(url, origin="http://evil.example", open_timeout=10) as ws:  # type: ignore[arg-type]
        ws.recv(timeout=5)
    own = served_project.url.rstrip("/")
    with connect(url, origin=own, open_timeout=10) as ws:  # type: ignore[arg-type]
        assert json.loads(ws.recv(timeout=10))["t"] == "batch"


def test_web_view_opens_allowlisted_host(sim: Sim, served_project: DevServer) -> None:
    served_project.served.webview_hosts = ("docs.example",)
    try:
        sim.open()
        csp = httpx.get(served_project.url).headers["content-security-policy"]
        assert "frame-src https://docs.example" in csp
        sim.instance.command("setPageData", {"page": sim.top_page_id(),
                                             "data": {"showWebview": True, "webSrc": "https://docs.example/help"}})
        frame = sim.page.locator("wx-web-view#wv iframe")
        wait_for(lambda: frame.count() == 1, "the web-view frame")
        assert frame.get_attribute("src") == "https://docs.example/help"
        assert "allow-scripts" in (frame.get_attribute("sandbox") or "")
    finally:
        served_project.served.webview_hosts = ()


def test_watermark_is_the_hosts_and_out_of_reach(sim: Sim) -> None:
    """The watermark is drawn in the host's layer: not in the mini-program's DOM, never tappable."""
    sim.server.served.watermark = "{user} {app}"
    try:
        sim.open()
        info = wait_for(lambda: sim.page.evaluate("""() => {
            const layer = document.getElementById('mb-host-layer').shadowRoot;
            const mark = layer && layer.getElementById('mb-watermark');
            if (!mark) return null;
            return { text: mark.textContent.slice(0, 40), inScreen: document.getElementById('mb-screen').contains(mark),
                     events: getComputedStyle(mark).pointerEvents, count: mark.children.length };
        }"""), "the watermark")
        served = sim.server.served
        assert info["text"].startswith(f"{served.user_id} {served.app_id}")
        assert info["inScreen"] is False and info["events"] == "none" and info["count"] == 24
    finally:
        sim.server.served.watermark = None


def test_the_apps_watermark_from_its_grants_is_drawn_in_the_host_layer(sim: Sim) -> None:
    """Issue 10: the platform's per-app template (allowlist `watermark`, delivered with the release)
    reaches the browser view through the app's grants, drawn with the host's own watermark."""
    from minibox.host.host import grants_from_allowlist

    served = sim.server.served
    grants = served.host.grants
    before = grants.get(served.app_id)
    grants[served.app_id] = grants_from_allowlist({"watermark": "{user} · {app} · {date}"})
    served.watermark = "{host}"
    try:
        sim.open()
        info = wait_for(lambda: sim.page.evaluate("""() => {
            const layer = document.getElementById('mb-host-layer').shadowRoot;
            const mark = layer && layer.getElementById('mb-watermark');
            if (!mark) return null;
            return { first: mark.firstChild.textContent, inScreen: document.getElementById('mb-screen').contains(mark),
                     visible: mark.getBoundingClientRect().width > 0 };
        }"""), "the app's watermark")
        today = datetime.now().strftime("%Y-%m-%d")
        host_id = served.host.config.host_id
        assert info["first"] == f"{served.user_id} · {served.app_id} · {today} · {host_id}"
        assert info["inScreen"] is False and info["visible"] is True
    finally:
        served.watermark = None
        if before is None:
            grants.pop(served.app_id, None)
        else:
            grants[served.app_id] = before
