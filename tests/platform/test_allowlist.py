"""Allowlist validation (MGT-08): exact https/wss origins on A-labels; every bad entry names its rule."""

from __future__ import annotations

import pytest

from minibox.platform.hosts.allowlist import MAX_DOMAINS_PER_LIST, AllowlistRejected, validate_allowlist

from .conftest import World, auth


@pytest.mark.parametrize(("entry", "expected"), [
    ("https://api.bank.example", "https://api.bank.example"),
    ("api.bank.example", "https://api.bank.example"),
    ("HTTPS://API.Bank.Example/", "https://api.bank.example"),
    ("https://api.bank.example.", "https://api.bank.example"),
    ("https://api.bank.example:443", "https://api.bank.example:443"),
    ("https://api.bank.example:8443", "https://api.bank.example:8443"),
    ("https://ｇｏｏｄ.example", "https://good.example"),
    ("https://银行.example", "https://xn--jn2a72x.example"),
])
def test_accepted_and_normalised(entry: str, expected: str) -> None:
    assert validate_allowlist({"request": [entry]})["request"] == [expected]


@pytest.mark.parametrize(("entry", "rule"), [
    ("http://api.bank.example", "scheme"),
    ("wss://api.bank.example", "scheme"),
    ("https://localhost", "hostname"),
    ("https://printer.local", "localhost"),
    ("https://127.0.0.1", "ip_address"),
    ("https://169.254.169.254", "ip_address"),
    ("https://[::ffff:a9fe:a9fe]", "ip_address"),
    ("https://*.com", "wildcard"),
    ("https://*.bank.example", "wildcard"),
    ("https://user:pw@api.bank.example", "userinfo"),
    ("https://api.bank.example/path", "shape"),
    ("https://api.bank.example?q=1", "shape"),
    ("https://api.weixin.qq.com", "forbidden_domain"),
    ("https://аpple.com", "mixed_script"),  # Cyrillic а + Latin
    ("https://xn--pple-43d.com", "mixed_script"),  # the same, as an A-label
    ("https://api.bank.example:99999", "port"),
    ("https://-bad-.example", "hostname"),
    ("https://bank", "hostname"),
])
def test_rejected_with_rule(entry: str, rule: str) -> None:
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist({"request": [entry]})
    assert e.value.details["rule"] == rule, e.value.message
    assert e.value.details["list"] == "request"


def test_everything_accepted_passes_the_runtime_policy() -> None:
    """MGT-08: the platform and the container agree (the container uses minibox.policy.urlpolicy)."""
    from minibox.policy.urlpolicy import Allowlist

    out = validate_allowlist({"request": ["api.bank.example", "https://ｇｏｏｄ.example:8443"],
                              "socket": ["wss://ws.bank.example"], "uploadFile": ["https://up.bank.example"]})
    Allowlist({k: out[k] for k in ("request", "socket", "uploadFile", "downloadFile")})


def test_socket_needs_wss_and_lists_are_capped() -> None:
    assert validate_allowlist({"socket": ["wss://ws.bank.example"]})["socket"] == ["wss://ws.bank.example"]
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist({"socket": ["https://ws.bank.example"]})
    assert e.value.details["rule"] == "scheme"
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist({"request": [f"https://a{i}.example" for i in range(MAX_DOMAINS_PER_LIST + 1)]})
    assert e.value.details["rule"] == "too_many"
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist({"hostApis": ["bank.transfer", "rm -rf"]})
    assert e.value.details == {"list": "hostApis", "entry": "rm -rf", "rule": "api_name"}


def test_allowlist_over_http(world: World) -> None:
    c, a = world.client, world.a
    assert c.post("/api/v1/apps", headers=auth(a, "admin"), json={"app_id": "al", "name": "AL"}).status_code == 201
    r = c.put("/api/v1/apps/al/allowlist", headers=auth(a, "admin"), json={"request": ["https://169.254.169.254"]})
    assert r.status_code == 422 and r.json()["code"] == "allowlist_rejected"
    assert r.json()["details"]["rule"] == "ip_address"
    r = c.put("/api/v1/apps/al/allowlist", headers=auth(a, "admin"),
              json={"request": ["api.bank.example"], "webView": ["https://h5.bank.example"]})
    assert r.status_code == 200
    assert r.json()["allowlist"]["request"] == ["https://api.bank.example"]
    r = c.put("/api/v1/apps/al/allowlist", headers=auth(a, "developer"), json={})
    assert r.status_code == 403
