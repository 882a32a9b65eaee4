"""wx.requestPayment on WeChat Pay's model (SECURITY.md PAY-01..08)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from minibox.apis.payment import PaymentError, sign_pay_params
from minibox.host import Host, HostConfig
from minibox.testing import launch

APP = "wxpay000000000000"
PAGE = """
Page({
  data: { out: [] },
  pay(params) {
    wx.requestPayment(Object.assign({}, params, {
      success: (r) => this.setData({ out: this.data.out.concat([r.errMsg]) }),
      fail: (e) => this.setData({ out: this.data.out.concat([e.errMsg]) }),
    }))
  },
})
"""
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def host(tmp_path: Path):
    h = Host(HostConfig(data_dir=tmp_path))
    h.payment.register_merchant(APP, KEY.public_key())
    yield h
    h.close()


@pytest.fixture
def project(make_project) -> Path:
    return make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})


def params(order_id: str, *, app: str = APP, key=KEY, stamp: int | None = None, nonce: str | None = None,
           **override) -> dict:
    ts = str(int(time.time()) if stamp is None else stamp)
    nonce = nonce or f"n{time.monotonic_ns()}"
    package = f"prepay_id={order_id}"
    out = {"timeStamp": ts, "nonceStr": nonce, "package": package, "signType": "RSA",
           "paySign": sign_pay_params(key, app, ts, nonce, package)}
    out.update(override)
    return out


def pay(mp, p: dict) -> None:
    mp.current_page.call_method("pay", p)


def test_confirmed_payment_is_paid_once(host, project) -> None:
    order = host.payment.create_order(APP, "alice", 1999, "Dumplings")
    with launch(project, host=host, app_id=APP, user="alice") as mp:
        pay(mp, params(order.prepay_id))
        request = host.payment.pending[-1]
        assert request.order.amount_fen == 1999  # the dialog shows the order's amount
        request.confirm()
        mp.wait_idle()
        pay(mp, params(order.prepay_id))  # replay with a fresh nonce
        assert mp.current_page.data["out"] == ["requestPayment:ok", "requestPayment:fail order already paid"]
    assert host.payment.order(order.prepay_id).status == "paid"


def test_cancel(host, project) -> None:
    order = host.payment.create_order(APP, "alice", 100, "Tea")
    with launch(project, host=host, app_id=APP, user="alice") as mp:
        pay(mp, params(order.prepay_id))
        host.payment.pending[-1].cancel()
        mp.wait_idle()
        assert mp.current_page.data["out"] == ["requestPayment:fail cancel"]
    assert host.payment.order(order.prepay_id).status == "created"


@pytest.mark.parametrize(("case", "expected"), [
    ("tampered_package", "requestPayment:fail invalid paySign"),
    ("forged_sign", "requestPayment:fail invalid paySign"),
    ("own_amount", "requestPayment:ok"),  # an amount in the args is ignored: the order's counts
    ("old_timestamp", "requestPayment:fail timeStamp expired"),
    ("bad_package", "requestPayment:fail invalid package"),
    ("md5", "requestPayment:fail signType must be RSA"),
    ("other_user", "requestPayment:fail order not found"),
    ("garbage_sign", "requestPayment:fail invalid paySign"),
])
def test_refusals(host, project, case: str, expected: str) -> None:
    order = host.payment.create_order(APP, "alice", 500, "Tea")
    other = host.payment.create_order(APP, "alice", 1, "Gum")
    p = {
        "tampered_package": lambda: {**params(order.prepay_id), "package": f"prepay_id={other.prepay_id}"},
        "forged_sign": lambda: params(order.prepay_id, key=OTHER_KEY),
        "own_amount": lambda: {**params(order.prepay_id), "total": 1, "amount": 1},
        "old_timestamp": lambda: params(order.prepay_id, stamp=int(time.time()) - 3600),
        "bad_package": lambda: params("x", package="order=1"),
        "md5": lambda: params(order.prepay_id, signType="MD5"),
        "other_user": lambda: params(order.prepay_id),
        "garbage_sign": lambda: params(order.prepay_id, paySign="%%%"),
    }[case]()
    user = "bob" if case == "other_user" else "alice"
    with launch(project, host=host, app_id=APP, user=user) as mp:
        pay(mp, p)
        if host.payment.pending:
            assert host.payment.pending[-1].order.amount_fen == 500
            host.payment.pending[-1].confirm()
        mp.wait_idle()
        assert mp.current_page.data["out"] == [expected]


def test_nonce_reuse_and_other_app(host, project, tmp_path) -> None:
    order = host.payment.create_order(APP, "alice", 300, "Tea")
    p = params(order.prepay_id, nonce="fixed")
    with launch(project, host=host, app_id=APP, user="alice") as mp:
        pay(mp, p)
        host.payment.pending[-1].cancel()
        mp.wait_idle()
        pay(mp, p)
        mp.wait_idle()
        assert mp.current_page.data["out"] == ["requestPayment:fail cancel", "requestPayment:fail nonceStr already used"]
    host.payment.register_merchant("wxother0000000000", KEY.public_key())
    with launch(project, host=host, app_id="wxother0000000000", user="alice") as mp:
        pay(mp, params(order.prepay_id, app="wxother0000000000"))
        mp.wait_idle()
        assert mp.current_page.data["out"] == ["requestPayment:fail order not found"]


@pytest.mark.parametrize("amount", [0, -1, 1.5, "100", 1e3, float("nan"), 10**12, True])
def test_order_amounts_are_whole_fen(host, amount) -> None:
    with pytest.raises(PaymentError, match="whole fen"):
        host.payment.create_order(APP, "alice", amount, "x")


def test_concurrent_confirmations_settle_once(host) -> None:
    order = host.payment.create_order(APP, "alice", 100, "Tea")
    results: list[str] = []

    def settle() -> None:
        try:
            host.payment._settle(order, True)
            results.append("paid")
        except Exception as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=settle) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("paid") == 1
    assert results.count("requestPayment:fail order already paid") == 7
