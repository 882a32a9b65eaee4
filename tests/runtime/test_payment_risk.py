"""Risk control before wx.requestPayment: the operator's rules score a device fingerprint the
mini-program cannot read and the user's behaviour; allow, step-up (TOTP or the host's challenge)
or refuse; every decision audited with its reasons and kept as a dispute record."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest

from minibox.host import Host, HostConfig
from minibox.risk import RuleError, RuleSet, device_fingerprint
from minibox.testing import launch
from tests.runtime.test_payment import APP, KEY, PAGE, params, pay

RULES = {
    "step_up_at": 50, "refuse_at": 100, "timezone": "UTC",
    "rules": [
        {"id": "velocity.user", "signal": "user_payments", "window_s": 600, "over": 2, "score": 60},
        {"id": "amount.large", "signal": "amount", "over": 100_000, "score": 100},
        {"id": "device.new", "signal": "new_device", "score": 5},
    ],
}
SECRET = pyotp.random_base32()


def make_host(tmp_path: Path, **kw) -> Host:
    h = Host(HostConfig(data_dir=tmp_path, risk_rules=RuleSet.from_dict(RULES), **kw))
    h.payment.register_merchant(APP, KEY.public_key())
    return h


@pytest.fixture
def project(make_project) -> Path:
    return make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})


def audit_lines(tmp_path: Path) -> list[dict]:
    lines = []
    for p in tmp_path.rglob("audit.jsonl"):
        lines += [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
    return [x for x in lines if x.get("event") == "payment.risk"]


def test_large_amount_is_refused_with_reasons_in_the_audit(tmp_path: Path, project: Path) -> None:
    host = make_host(tmp_path)
    try:
        order = host.payment.create_order(APP, "alice", 200_000, "Car")
        with launch(project, host=host, app_id=APP, user="alice") as mp:
            pay(mp, params(order.prepay_id))
            mp.wait_idle()
            assert mp.current_page.data["out"] == ["requestPayment:fail risk control refused"]
        assert not host.payment.pending and host.payment.order(order.prepay_id).status == "created"
        [line] = audit_lines(tmp_path)
        assert line["outcome"] == "refuse" and line["score"] == 105 and line["order"] == order.prepay_id
        assert {r["rule"] for r in line["reasons"]} == {"amount.large", "device.new"}
        record = host.payment.dispute_record(order.prepay_id)
        assert record is not None and [e["kind"] for e in record["events"]] == ["risk"]
        export = host.export_dispute(order.prepay_id)
        assert export is not None and export["audit"][0]["reasons"] == line["reasons"]
        assert export["audit_head"]["seq"] >= export["audit"][0]["seq"]
        assert host.export_dispute("wxnosuchorder") is None
    finally:
        host.close()


def test_velocity_asks_for_totp_and_a_good_code_pays(tmp_path: Path, project: Path) -> None:
    host = make_host(tmp_path, totp_secrets=lambda user: SECRET if user == "alice" else None)
    try:
        with launch(project, host=host, app_id=APP, user="alice") as mp:
            for i in range(2):  # two quick payments are fine
                order = host.payment.create_order(APP, "alice", 100 + i, "Tea")
                pay(mp, params(order.prepay_id))
                mp.wait_idle()
                host.payment.pending[-1].confirm()
                mp.wait_idle()
            third = host.payment.create_order(APP, "alice", 300, "Tea")
            pay(mp, params(third.prepay_id))
            mp.wait_idle()
            [challenge] = host.payment.step_ups
            assert challenge.method == "totp" and challenge.decision.outcome == "step_up"
            wrong = "000000" if pyotp.TOTP(SECRET).now() != "000000" else "111111"
            assert not challenge.answer(wrong)  # a wrong code ends the step-up
            mp.wait_idle()
            assert mp.current_page.data["out"][-1] == "requestPayment:fail verification failed"
            fourth = host.payment.create_order(APP, "alice", 300, "Tea")
            pay(mp, params(fourth.prepay_id))
            mp.wait_idle()
            assert host.payment.step_ups[-1].answer(pyotp.TOTP(SECRET).now())
            mp.wait_idle()
            host.payment.pending[-1].confirm()
            mp.wait_idle()
            assert mp.current_page.data["out"] == ["requestPayment:ok", "requestPayment:ok",
                                                   "requestPayment:fail verification failed", "requestPayment:ok"]
        record = host.payment.dispute_record(fourth.prepay_id)
        assert record is not None and record["order"]["status"] == "paid"
        kinds = [(e["kind"], e.get("outcome") or e.get("passed") or e.get("confirmed") or e.get("paid"))
                 for e in record["events"]]
        assert kinds == [("risk", "step_up"), ("step_up", True), ("confirmation", True), ("settled", True)]
        assert record["events"][0]["device"] == host.payment.device
    finally:
        host.close()


def test_step_up_without_any_second_factor_fails_closed(tmp_path: Path, project: Path) -> None:
    host = make_host(tmp_path)
    try:
        with launch(project, host=host, app_id=APP, user="bob") as mp:
            for i in range(3):
                order = host.payment.create_order(APP, "bob", 100 + i, "Tea")
                pay(mp, params(order.prepay_id))
                mp.wait_idle()
                if host.payment.pending and i < 2:
                    host.payment.pending[-1].confirm()
                    mp.wait_idle()
            assert mp.current_page.data["out"][-1] == "requestPayment:fail risk control refused"
    finally:
        host.close()


def test_host_defined_step_up(tmp_path: Path, project: Path) -> None:
    host = make_host(tmp_path, step_up=lambda challenge: challenge.passed())
    try:
        with launch(project, host=host, app_id=APP, user="carol") as mp:
            for i in range(3):
                order = host.payment.create_order(APP, "carol", 100 + i, "Tea")
                pay(mp, params(order.prepay_id))
                mp.wait_idle()
                host.payment.pending[-1].confirm()
                mp.wait_idle()
            assert mp.current_page.data["out"] == ["requestPayment:ok"] * 3
            assert host.payment.step_ups[-1].method == "host"
    finally:
        host.close()


def test_fingerprint_is_stable_per_device_and_never_reaches_the_app(tmp_path: Path, project: Path) -> None:
    system = {"model": "Pixel", "platform": "android"}
    a = device_fingerprint(tmp_path / "a", b"k" * 32, system)
    assert a == device_fingerprint(tmp_path / "a", b"k" * 32, system)
    assert a != device_fingerprint(tmp_path / "b", b"k" * 32, system)
    host = make_host(tmp_path / "h")
    try:
        with launch(project, host=host, app_id=APP) as mp:
            info = mp.call_wx_method("getSystemInfoSync")
            assert host.payment.device not in json.dumps(info)
            assert host.payment.device not in json.dumps(mp.instance.bundle.config)
    finally:
        host.close()


@pytest.mark.parametrize(("doc", "message"), [
    ({"rules": [{"id": "x", "signal": "astrology", "score": 1}]}, "rule 'x'.signal"),
    ({"rules": [{"id": "x", "signal": "user_payments", "score": 1}]}, "rule 'x'.window_s"),
    ({"rules": [{"id": "x", "signal": "amount", "score": "high"}]}, "rule 'x'.score"),
    ({"rules": [{"id": "x", "signal": "hour", "between": [3], "score": 1}]}, "rule 'x'.between"),
    ({"step_up_at": 90, "refuse_at": 10, "rules": []}, "step_up_at"),
    ({"timezone": "Mars/Olympus", "rules": []}, "timezone"),
    ({"rules": [{"id": "x", "signal": "amount", "score": 1}, {"id": "x", "signal": "amount", "score": 1}]},
     "rules[1].id"),
])
def test_bad_rule_sets_name_the_rule_and_field(doc: dict, message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RuleSet.from_dict(doc)
