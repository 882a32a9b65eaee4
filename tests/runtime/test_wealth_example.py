"""The bank-grade showcase (examples/wealth): a third-party wealth assistant inside a bank's app.
Its chat calls the bank's AI service through the secure channel (a real TLS backend on 127.0.0.1
verifying with minibox.securechannel), it sees only the masked data its grant allows, and it pays
through the risk-checked payment. Every path is driven, the refused ones included."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyotp
import pytest

from minibox.host import Host, HostConfig
from minibox.policy import AppGrants
from minibox.policy.datamin import DataForms
from minibox.risk import RuleSet
from minibox.securechannel import ChannelError, ChannelKey, SecureOrigin, Verifier
from minibox.testing import launch
from tests.conftest import EXAMPLES
from tests.runtime.test_payment import KEY, params
from tests.security.conftest import JsonReplies, MapResolver, Pki, serve_tls
from tests.security.conftest import pki as pki

APP, USER = "wxwealth000000000", "alice"
MASTER = b"w" * 32
SECRET = pyotp.random_base32()
PRICES = {"fund-a": 1999, "fund-b": 500_000}
RULES = RuleSet.from_dict({"step_up_at": 50, "refuse_at": 100, "timezone": "UTC", "rules": [
    {"id": "amount.large", "signal": "amount", "over": 100_000, "score": 100},
    {"id": "velocity.user", "signal": "user_payments", "window_s": 600, "over": 1, "score": 60},
]})


@dataclass
class Bank:
    host: Host | None = None
    tamper_next: bool = False


def bank_backend(pki: Pki, bank: Bank) -> ThreadingHTTPServer:
    """The bank's AI and order services: every request must come through the host's secure channel."""
    verifier = Verifier({APP: ChannelKey.derive(MASTER, APP)})

    class Handler(JsonReplies):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                req = verifier.verify_request("POST", f"https://{self.headers['Host']}{self.path}",
                                              dict(self.headers.items()), raw)
            except ChannelError:
                self._send(401, {}, b'{"error": "unauthenticated"}')
                return
            body = json.loads(req.body)
            if self.path == "/v1/chat":
                answer = {"answer": f"For '{body['question']}': start with a monthly saving plan."}
            else:  # /v1/orders: the order is made with the bank, the pay parameters signed by the merchant
                assert bank.host is not None
                order = bank.host.payment.create_order(APP, USER, PRICES[body["product"]], body["product"])
                answer = {"payParams": params(order.prepay_id, app=APP)}
            headers, out = verifier.sign_response(req, 200, json.dumps(answer).encode())
            if bank.tamper_next:
                bank.tamper_next, out = False, out[:-1] + bytes([out[-1] ^ 1])
            self._send(200, {**headers, "Content-Type": "application/json"}, out)

    return serve_tls(pki, Handler)


class Location:
    def current(self, ctx: Any, coord: str) -> dict:
        return {"latitude": 31.230416, "longitude": 121.473701, "accuracy": 5}


@pytest.fixture
def world(tmp_path: Path, pki: Pki) -> Iterator[tuple[Host, Path, Bank]]:
    bank = Bank()
    httpd = bank_backend(pki, bank)
    port = httpd.server_address[1]
    project = Path(shutil.copytree(EXAMPLES / "wealth", tmp_path / "wealth"))
    app_js = project / "app.js"
    app_js.write_text(app_js.read_text().replace("https://ai.bank.example", f"https://ai.bank.example:{port}"))
    host = Host(HostConfig(
        data_dir=tmp_path / "host", resolver=MapResolver({"ai.bank.example": [["127.0.0.1"]]}),
        ssl_context=pki.client_context(), consent=lambda r: True, privacy=lambda r: "agree",
        location_provider=Location(), phone_provider=lambda user: "13812345678", risk_rules=RULES,
        totp_secrets=lambda user: SECRET,
        secure_channels={APP: {"ai.bank.example": SecureOrigin(ChannelKey.derive(MASTER, APP), encrypt=True)}}))
    host.grants[APP] = AppGrants.build(request=[f"https://ai.bank.example:{port}"], allowed_networks=["127.0.0.0/8"],
                                       data_forms=DataForms(phone="masked", location="grid"))
    host.payment.register_merchant(APP, KEY.public_key())
    bank.host = host
    try:
        yield host, project, bank
    finally:
        host.close()
        httpd.shutdown()
        httpd.server_close()


def test_chat_through_the_secure_channel_and_a_forged_answer_refused(world: tuple[Host, Path, Bank]) -> None:
    host, project, bank = world
    with launch(project, host=host, app_id=APP, user=USER) as mp:
        page = mp.current_page
        page.query_selector("input.question").input("How can I save for a house?")
        page.query_selector("button.ask").tap()
        mp.wait_idle()
        assert "monthly saving plan" in page.query_selector(".messages").text
        bank.tamper_next = True
        page.query_selector("input.question").input("And for retirement?")
        page.query_selector("button.ask").tap()
        mp.wait_idle()
        assert page.query_selector(".error").text == "request:fail response signature invalid"


def test_only_masked_data_reaches_the_assistant(world: tuple[Host, Path, Bank]) -> None:
    host, project, _bank = world
    with launch(project, host=host, app_id=APP, user=USER, path="pages/profile/profile") as mp:
        page = mp.current_page
        page.query_selector("button.phone").tap()
        mp.wait_idle()
        code = page.data["phoneCode"]
        assert code and "138" not in json.dumps(page.data)  # a one-time code, never the number
        page.query_selector("button.locate").tap()
        mp.wait_idle()
        assert page.data["area"] == "31.225, 121.475 (±3936 m)"  # a 5 km cell, not the customer's spot
    # the assistant's server redeems the code: the masked number, once
    assert host.userdata.redeem_phone(code, APP)["phoneNumber"] == "138****5678"


def test_payments_pass_the_risk_check_or_are_refused(world: tuple[Host, Path, Bank]) -> None:
    host, project, _bank = world
    with launch(project, host=host, app_id=APP, user=USER, path="pages/products/products") as mp:
        page = mp.current_page
        buttons = page.query_selector_all("button.buy")
        buttons[0].tap()  # fund-a, 19.99: allowed, confirmed in the host-drawn dialog
        mp.wait_idle()
        host.payment.pending[-1].confirm()
        mp.wait_idle()
        assert page.data["status"] == "Paid. Thank you!"
        buttons[1].tap()  # fund-b, 5,000.00: over the amount rule, refused before any dialog
        mp.wait_idle()
        assert page.data["status"] == "Not paid: requestPayment:fail risk control refused"
        pending = len(host.payment.pending)
        buttons[0].tap()  # again within ten minutes: a step-up, and a wrong code fails it
        mp.wait_idle()
        wrong = "000000" if pyotp.TOTP(SECRET).now() != "000000" else "111111"
        assert not host.payment.step_ups[-1].answer(wrong)
        mp.wait_idle()
        assert page.data["status"] == "Not paid: requestPayment:fail verification failed"
        assert len(host.payment.pending) == pending  # no confirmation was ever shown
