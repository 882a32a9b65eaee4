"""NET-07 differential: the host we validated is the host we resolved, sent as SNI and Host, and
the host any other parser reads from the URL we send."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minibox.policy import AppGrants
from minibox.policy.network import NetError
from minibox.policy.urlpolicy import UrlRefused, parse_url

from .conftest import MapResolver

HOSTS = ["good.test", "GOOD.test", "good.test.", "ｇｏｏｄ.test", "api.good.test", "evil.test", "other.test",
         "good.test%2e", "127.0.0.1", "[::1]", "good.test@evil.test", "evil.test#@good.test",
         "evil.test\\@good.test", "good.test:1@evil.test", "xn--80ak6aa92e.com", "gооd.test", "good.test\u3002",
         "good.test\x00", "localhost", "good.test.evil.test", "api.GOOD.test", "good.test\t", " good.test"]
SEPS = ["://", ":/", ":\\\\", "://user@", "://good.test@", ":///", "://\\"]
SCHEMES = ["https", "HTTPS", "hTTps", "http", "wss", "ftp", "https "]
PATH_CHARS = st.sampled_from([*list("/?#@:abc%2e.\\\t\n é中"), "..", "%40", "%2F", "@evil.test", "#@good.test"])


@st.composite
def urls(draw: st.DrawFn, port: int) -> str:
    ports = [f":{port}", "", f":0{port}", ":443", ":", f":{port}:{port}"]
    path = "".join(draw(st.lists(PATH_CHARS, max_size=8)))
    return (draw(st.sampled_from(SCHEMES)) + draw(st.sampled_from(SEPS)) + draw(st.sampled_from(HOSTS))
            + draw(st.sampled_from(ports)) + path)


@pytest.fixture
def diff_inst(make_instance, tls_server):
    p = tls_server.port
    res = MapResolver({n: [["127.0.0.1"]] for n in ("good.test", "api.good.test", "evil.test", "other.test")})
    inst = make_instance(grants=AppGrants.build(request=[f"https://good.test:{p}", f"https://api.good.test:{p}"],
                                                allowed_networks=["127.0.0.0/8"]), resolver=res)
    inst.resolver = res
    return inst


def test_net07_validated_host_equals_connected_host(diff_inst, tls_server):
    stats = {"tried": 0, "sent": 0}
    port = tls_server.port

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)
    @given(urls(port))
    def check(url: str) -> None:
        stats["tried"] += 1
        svc = diff_inst.services.network
        try:
            target = svc.vet("request", url)
        except NetError:
            return
        assert target.url.host in ("good.test", "api.good.test")
        assert target.url.port == port
        n = len(tls_server.seen.requests)
        diff_inst.resolver.calls.clear()
        r = diff_inst.call("request", {"url": url})
        stats["sent"] += 1
        assert r["statusCode"] == 200
        assert len(tls_server.seen.requests) == n + 1
        assert diff_inst.resolver.calls == [target.url.host]
        assert tls_server.seen.sni[-1] == target.url.host
        assert tls_server.seen.requests[-1]["headers"]["Host"] == f"{target.url.host}:{port}"

    check()
    assert stats["sent"] > 0


@settings(max_examples=2000, deadline=None, database=None, derandomize=True)
@given(urls(8443))
def test_net07_serialised_url_parses_identically_elsewhere(url):
    try:
        safe = parse_url(url)
    except UrlRefused:
        return
    other = httpx.URL(str(safe))
    assert other.raw_host.decode("ascii") == safe.host and (other.port or 443) == safe.effective_port
    assert other.scheme == "https" and not other.userinfo
