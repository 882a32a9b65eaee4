"""BRG-07 and host-defined APIs: only granted apps, same checks, consent, audit, no leaks."""

from __future__ import annotations

from typing import Any

import pytest

from minibox.apis.hostapi import register_api
from minibox.apis.registry import ApiError, ApiRegistry, Arg
from minibox.policy import AppGrants, register_all


@pytest.fixture
def host(make_instance):
    registry = ApiRegistry()
    register_all(registry)
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def transfer(ctx, args):
        calls.append((ctx.app_id, ctx.user_id, args))
        return {"ok": True, "amount": args["amount"]}

    register_api(registry, "bank.transfer", transfer, scope="scope.bank.transfer",
                 schema={"amount": Arg((int,), required=True), "to": Arg((str,), required=True)},
                 apps=["wxbank"])
    register_api(registry, "bank.crash", lambda ctx, a: 1 / 0, apps=["wxbank"])
    register_api(registry, "bank.leak", lambda ctx, a: {"obj": object()}, apps=["wxbank"])
    register_api(registry, "bank.reject",
                 lambda ctx, a: (_ for _ in ()).throw(ApiError("bank.reject:fail insufficient funds")),
                 apps=["wxbank"])
    register_api(registry, "bank.balance", lambda ctx, a: {"balance": 5}, kind="sync")

    def make(app: str, **kw: Any):
        inst = make_instance(app, registry=registry, **kw)
        inst.services.permissions.extra_scopes.add("scope.bank.transfer")
        return inst

    make.calls = calls
    return make


def test_not_granted_app_gets_not_permitted_before_any_prompt(host):
    other = host("wxgame")
    err = other.fail("bank.transfer", {"amount": 1, "to": "x"})
    assert err.err_msg == "bank.transfer:fail api not permitted"
    assert host.calls == [] and other.prompts == []
    assert other.services.audit.entries(event="policy.denied")[-1]["rule"] == "host-api-not-granted"
    assert other.fail("bank.balance").err_msg == "bank.balance:fail api not permitted"


def test_granted_app_is_prompted_once_and_audited(host):
    bank = host("wxbank")
    r = bank.call("bank.transfer", {"amount": 100, "to": "acct", "appId": "forged", "userId": "forged"})
    assert r == {"ok": True, "amount": 100, "errMsg": "bank.transfer:ok"}
    assert host.calls[0][:2] == ("wxbank", "u1")
    assert [p.scope for p in bank.prompts] == ["scope.bank.transfer"]
    bank.call("bank.transfer", {"amount": 1, "to": "acct"})
    assert len(bank.prompts) == 1
    assert len(bank.services.audit.entries(event="hostapi.call")) == 2
    assert bank.call("authorize", {"scope": "scope.bank.transfer"})["errMsg"] == "authorize:ok"


def test_refused_custom_scope(host):
    bank = host("wxbank", consent=False)
    assert bank.fail("bank.transfer", {"amount": 1, "to": "a"}).err_msg == "bank.transfer:fail auth deny"
    assert host.calls == []


def test_grant_by_platform_metadata(host):
    inst = host("wxpartner", grants=AppGrants(host_apis=frozenset({"bank.balance"})))
    assert inst.call("bank.balance") == {"balance": 5, "errMsg": "bank.balance:ok"}
    assert inst.fail("bank.transfer", {"amount": 1, "to": "a"}).err_msg.endswith("api not permitted")


@pytest.mark.parametrize("args", [{"amount": "100", "to": "a"}, {"amount": 1.5, "to": "a"}, {"to": "a"},
                                  {"amount": True, "to": "a"}, {"amount": 1, "to": None}])
def test_schema_checked_before_handler(host, args):
    bank = host("wxbank")
    assert bank.fail("bank.transfer", args).err_msg.startswith("bank.transfer:fail parameter error")
    assert host.calls == [] and bank.prompts == []


def test_handler_errors_do_not_leak(host):
    bank = host("wxbank")
    err = bank.fail("bank.crash")
    assert err.err_msg == "bank.crash:fail internal error" and "ZeroDivision" not in err.err_msg
    assert bank.fail("bank.leak").err_msg == "bank.leak:fail invalid result"
    assert bank.fail("bank.reject").err_msg == "bank.reject:fail insufficient funds"


def test_denied_list_overrides_host_grant(host):
    bank = host("wxbank", grants=AppGrants(apis_denied=frozenset({"bank.transfer"})))
    assert bank.fail("bank.transfer", {"amount": 1, "to": "a"}).err_msg.endswith("api not permitted")


@pytest.mark.parametrize("name", ["", "bad name", "a/b", "x;y", "évil"])
def test_bad_host_api_names(name):
    with pytest.raises(ValueError):
        register_api(ApiRegistry(), name, lambda c, a: {})


def test_duplicate_registration_refused(host):
    registry = ApiRegistry()
    register_api(registry, "bank.x", lambda c, a: {})
    with pytest.raises(ValueError):
        register_api(registry, "bank.x", lambda c, a: {})
