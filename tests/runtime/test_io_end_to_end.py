"""wx.request, connectSocket and the FileSystemManager, end to end: mini-program JS in a sandboxed
worker -> the bridge -> the host's policy and services -> a real TLS server on 127.0.0.1."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.server import serve

from minibox.host import Host, HostConfig
from minibox.policy import AppGrants
from minibox.policy.datamin import DataForms
from minibox.testing import launch
from tests.security.conftest import MapResolver, Pki, TlsServer
from tests.security.conftest import pki as pki
from tests.security.conftest import tls_server as tls_server

APP = "wxio0000000000000"
PAGE = """
Page({
  data: { out: [] },
  push(x) { this.setData({ out: this.data.out.concat([x]) }) },
  get(url) {
    const task = wx.request({ url, method: 'POST', data: { a: 1 }, header: { 'X-Test': 'yes' },
      success: (r) => this.push(['ok', r.statusCode, r.data.method, r.data.headers['X-Test'] || r.data.headers['x-test'], r.errMsg]),
      fail: (e) => this.push(['fail', e.errMsg, e.errno || null]) })
    this.push(['task', typeof task.abort])
  },
  aborted(url) {
    const task = wx.request({ url, fail: (e) => this.push(['fail', e.errMsg]), success: () => this.push('ok') })
    task.abort()
  },
  files() {
    const fs = wx.getFileSystemManager()
    const p = `${wx.env.USER_DATA_PATH}/notes/a.txt`
    fs.mkdirSync(`${wx.env.USER_DATA_PATH}/notes`, true)
    fs.writeFileSync(p, 'héllo', 'utf8')
    this.push(['read', fs.readFileSync(p, 'utf8')])
    const st = fs.statSync(p)
    this.push(['stat', st.isFile(), st.isDirectory(), st.size])
    this.push(['dir', fs.readdirSync(`${wx.env.USER_DATA_PATH}/notes`)])
    const buf = new Uint8Array([0, 255, 7]).buffer
    fs.writeFileSync(`${wx.env.USER_DATA_PATH}/b.bin`, buf)
    const back = new Uint8Array(fs.readFileSync(`${wx.env.USER_DATA_PATH}/b.bin`))
    this.push(['bin', Array.from(back)])
    try { fs.readFileSync('wxfile://usr/../../etc/passwd', 'utf8'); this.push('escaped') } catch (e) { this.push(['escape', e.message]) }
    fs.readFile({ filePath: p, encoding: 'utf8', success: (r) => this.push(['async', r.data, r.errMsg]) })
    fs.access({ path: `${wx.env.USER_DATA_PATH}/nope`, fail: (e) => this.push(['access', e.errMsg]) })
  },
  socket(url) {
    const task = wx.connectSocket({ url })
    task.onOpen(() => task.send({ data: 'ping' }))
    task.onMessage((m) => { this.push(['msg', m.data]); task.close({ code: 1000 }) })
    task.onClose((c) => this.push(['close', c.code]))
  },
})
"""


@pytest.fixture
def host(tmp_path: Path, pki: Pki) -> Iterator[Host]:
    resolver = MapResolver({"api.good.test": [["127.0.0.1"]], "ws.good.test": [["127.0.0.1"]]})
    h = Host(HostConfig(data_dir=tmp_path, resolver=resolver, ssl_context=pki.client_context()))
    yield h
    h.close()


@pytest.fixture
def project(make_project) -> Path:
    return make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})


def grants(port: int) -> AppGrants:
    return AppGrants.build(request=[f"https://api.good.test:{port}"], socket=["wss://ws.good.test"],
                           allowed_networks=["127.0.0.0/8"])


def test_request_through_the_sandbox(host, project, tls_server: TlsServer) -> None:
    host.grants[APP] = grants(tls_server.port)
    with launch(project, host=host, app_id=APP) as mp:
        page = mp.current_page
        page.call_method("get", f"https://api.good.test:{tls_server.port}/echo")
        page.call_method("get", "https://evil.test/steal")
        page.call_method("get", f"https://127.0.0.1:{tls_server.port}/")
        mp.wait_idle()
        out = page.data["out"]
    assert ["task", "function"] in out
    assert ["ok", 200, "POST", "yes", "request:ok"] in out
    assert ["fail", "request:fail url not in domain list", 600002] in out
    assert out.count(["fail", "request:fail url not in domain list", 600002]) == 2
    assert tls_server.seen.requests[-1]["headers"]["Referer"].startswith("https://servicewechat.com/")


def test_abort(host, project, tls_server: TlsServer) -> None:
    host.grants[APP] = grants(tls_server.port)
    with launch(project, host=host, app_id=APP) as mp:
        mp.current_page.call_method("aborted", f"https://api.good.test:{tls_server.port}/echo")
        mp.wait_idle()
        assert mp.current_page.data["out"] == [["fail", "request:fail abort"]]


def test_files_through_the_sandbox(host, project) -> None:
    with launch(project, host=host, app_id=APP) as mp:
        mp.current_page.call_method("files")
        mp.wait_idle()
        out = mp.current_page.data["out"]
    assert ["read", "héllo"] in out
    assert ["stat", True, False, 6] in out
    assert ["dir", ["a.txt"]] in out
    assert ["bin", [0, 255, 7]] in out
    assert any(x[0] == "escape" and "fail" in x[1] for x in out if isinstance(x, list))
    assert ["async", "héllo", "readFile:ok"] in out
    assert any(x[0] == "access" and x[1].startswith("access:fail") for x in out if isinstance(x, list))


@pytest.fixture
def wss_port(pki: Pki) -> Iterator[int]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.cert_file, pki.key_file)

    def echo(ws) -> None:
        for msg in ws:
            ws.send("pong:" + msg)

    server = serve(echo, "127.0.0.1", 0, ssl=ctx)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.socket.getsockname()[1]
    server.shutdown()


def test_socket_task_through_the_sandbox(host, project, wss_port: int) -> None:
    host.grants[APP] = grants(443)
    with launch(project, host=host, app_id=APP) as mp:
        mp.current_page.call_method("socket", f"wss://ws.good.test:{wss_port}/")
        for _ in range(200):
            mp.wait_idle()
            if ["close", 1000] in mp.current_page.data["out"]:
                break
            threading.Event().wait(0.02)
        assert mp.current_page.data["out"] == [["msg", "pong:ping"], ["close", 1000]]


LOCATION_PAGE = """
Page({
  data: { out: [] },
  push(x) { this.setData({ out: this.data.out.concat([x]) }) },
  where() {
    wx.getLocation({ type: 'gcj02' }).then((r) => this.push(['loc', r.latitude, r.errMsg]),
                                           (e) => this.push(['loc', e.errMsg]))
  },
  settings() { wx.getSetting().then((r) => this.push(['setting', r.authSetting])) },
})
"""


class Provider:
    def current(self, ctx, coord: str) -> dict:
        return {"latitude": 31.2304, "longitude": 121.4737, "accuracy": 5}


def location_project(make_project, declared: bool) -> Path:
    app = {"pages": ["pages/p/p"], "permission": {"scope.userLocation": {"desc": "to find your branch"}}}
    if declared:
        app["requiredPrivateInfos"] = ["getLocation"]
    return make_project({"app.json": app, "pages/p/p.wxml": "<view/>", "pages/p/p.js": LOCATION_PAGE})


@pytest.mark.parametrize(("declared", "answer", "expected"), [
    (True, True, ["loc", 31.2304, "getLocation:ok"]),
    (True, False, ["loc", "getLocation:fail auth deny"]),
    (False, True, ["loc", "getLocation:fail the api need to be declared in the requiredPrivateInfos field in app.json/ext.json"]),
])
def test_location_needs_declaration_consent_and_privacy(tmp_path, make_project, declared, answer, expected) -> None:
    asked: list = []

    def consent(request) -> bool:
        asked.append((request.scope, request.description))
        return answer

    host = Host(HostConfig(data_dir=tmp_path, consent=consent, privacy=lambda request: "agree",
                           location_provider=Provider()))
    host.grants[APP] = AppGrants(data_forms=DataForms(location="precise"))  # the platform's grant
    try:
        with launch(location_project(make_project, declared), host=host, app_id=APP) as mp:
            mp.current_page.call_method("where")
            mp.wait_idle()
            mp.current_page.call_method("where")  # the decision is remembered: no second prompt
            mp.wait_idle()
            out = mp.current_page.data["out"]
            assert out == [expected, expected]
            assert len(asked) == (1 if declared else 0)
            if declared:
                assert asked[0] == ("scope.userLocation", "to find your branch")
                mp.current_page.call_method("settings")
                mp.wait_idle()
                assert mp.current_page.data["out"][-1] == ["setting", {"scope.userLocation": answer}]
    finally:
        host.close()
