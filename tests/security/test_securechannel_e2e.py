"""The secure channel end to end: an unmodified mini-program's wx.request to its bank backend (a
real TLS server on 127.0.0.1 verifying with minibox.securechannel) is signed and sealed by the host;
the backend's signed answer reaches the app decrypted; forged or replayed answers are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minibox.host import Host, HostConfig
from minibox.policy import AppGrants
from minibox.securechannel import ChannelError, ChannelKey, SecureOrigin, Verifier
from minibox.testing import launch

from .conftest import JsonReplies, MapResolver, Pki, serve_tls

APP = "wxbank00000000000"
MASTER = b"k" * 32
PAGE = """
Page({
  data: { out: [] },
  send(url) {
    wx.request({ url, method: 'POST', data: { amount: 100, to: 'alice' }, header: { 'X-Mb-Sig': 'forged-by-app' },
      success: (r) => this.setData({ out: this.data.out.concat([['ok', r.statusCode, r.data]]) }),
      fail: (e) => this.setData({ out: this.data.out.concat([['fail', e.errMsg]]) }) })
  },
})
"""


class Bank:
    """A bank backend: verifies every request with the library, signs (and seals) its answers."""

    def __init__(self, pki: Pki) -> None:
        self.verifier = Verifier({APP: ChannelKey.derive(MASTER, APP)})
        self.seen: list[dict[str, Any]] = []
        self.last_answer: tuple[dict[str, str], bytes] | None = None
        bank = self

        class Handler(JsonReplies):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = f"https://{self.headers['Host']}{self.path}"
                try:
                    req = bank.verifier.verify_request(self.command, url, dict(self.headers.items()), body)
                except ChannelError as e:
                    bank.seen.append({"refused": e.rule})
                    self._send(401, {}, b'{"error": "unauthenticated"}')
                    return
                bank.seen.append({"body": json.loads(req.body), "encrypted": req.encrypted,
                                  "raw": body})
                answer = json.dumps({"paid": json.loads(req.body)["amount"]}).encode()
                headers, out = bank.verifier.sign_response(req, 200, answer)
                if self.path == "/tampered":
                    out = out[:-1] + bytes([out[-1] ^ 1])
                if self.path == "/replayed" and bank.last_answer is not None:
                    headers, out = bank.last_answer
                bank.last_answer = (headers, out)
                self._send(200, {**headers, "Content-Type": "application/json"}, out)

        self.httpd = serve_tls(pki, Handler)
        self.port = self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def bank(pki: Pki) -> Iterator[Bank]:
    b = Bank(pki)
    yield b
    b.close()


@pytest.mark.parametrize("encrypt", [False, True])
def test_wx_request_to_the_bank_is_signed_and_its_answer_verified(tmp_path: Path, pki: Pki, bank: Bank,
                                                                  make_project, encrypt: bool) -> None:
    channels = {APP: {"api.good.test": SecureOrigin(ChannelKey.derive(MASTER, APP), encrypt=encrypt)}}
    host = Host(HostConfig(data_dir=tmp_path / "host", resolver=MapResolver({"api.good.test": [["127.0.0.1"]]}),
                           ssl_context=pki.client_context(), secure_channels=channels))
    host.grants[APP] = AppGrants.build(request=[f"https://api.good.test:{bank.port}"],
                                       allowed_networks=["127.0.0.0/8"])
    project = make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})
    base = f"https://api.good.test:{bank.port}"
    try:
        with launch(project, host=host, app_id=APP) as mp:
            page = mp.current_page
            for path in ("/transfer", "/tampered", "/replayed"):
                page.call_method("send", base + path)
                mp.wait_idle()
            out = page.data["out"]
    finally:
        host.close()
    assert out[0] == ["ok", 200, {"paid": 100}]
    assert out[1] == ["fail", "request:fail response signature invalid"]
    assert out[2] == ["fail", "request:fail response signature invalid"]
    first = bank.seen[0]
    assert first["body"] == {"amount": 100, "to": "alice"} and first["encrypted"] is encrypt
    assert (b"alice" not in first["raw"]) is encrypt
    assert all("refused" not in s for s in bank.seen)  # the app's own X-Mb-Sig header was dropped


def test_without_the_channel_the_bank_refuses(tmp_path: Path, pki: Pki, bank: Bank, make_project) -> None:
    host = Host(HostConfig(data_dir=tmp_path / "host", resolver=MapResolver({"api.good.test": [["127.0.0.1"]]}),
                           ssl_context=pki.client_context()))
    host.grants[APP] = AppGrants.build(request=[f"https://api.good.test:{bank.port}"],
                                       allowed_networks=["127.0.0.0/8"])
    project = make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})
    try:
        with launch(project, host=host, app_id=APP) as mp:
            mp.current_page.call_method("send", f"https://api.good.test:{bank.port}/transfer")
            mp.wait_idle()
            out = mp.current_page.data["out"]
    finally:
        host.close()
    assert out == [["ok", 401, {"error": "unauthenticated"}]]
    assert bank.seen == [{"refused": "malformed"}]
