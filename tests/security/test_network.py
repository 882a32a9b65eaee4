"""NET-01..13: the URL policy, SSRF guard, pinning, redirects, TLS, headers, caps; real TLS on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import time
from typing import Any

import pytest
from hypothesis import strategies as st
from websockets.sync.server import serve

from minibox.apis.registry import ApiError
from minibox.policy import AppGrants
from minibox.policy.urlpolicy import (
    AddressRefused,
    Allowlist,
    AllowlistError,
    UrlRefused,
    parse_url,
    vet_address,
)

from .conftest import MapResolver

NAMES = ["good.test", "api.good.test", "other.test", "evil.test", "ws.good.test", "nocert.test"]


@pytest.fixture
def resolver() -> MapResolver:
    return MapResolver({n: [["127.0.0.1"]] for n in NAMES})


@pytest.fixture
def net(make_instance, tls_server, resolver):
    p = tls_server.port
    grants = AppGrants.build(
        request=[f"https://good.test:{p}", f"https://api.good.test:{p}", f"https://nocert.test:{p}"],
        upload=[f"https://good.test:{p}"], download=[f"https://good.test:{p}"],
        socket=["wss://ws.good.test"], allowed_networks=["127.0.0.0/8"])
    inst = make_instance(grants=grants, resolver=resolver)
    inst.port = p
    inst.server = tls_server
    return inst


def seen_count(server) -> int:
    return len(server.seen.requests)


def test_request_happy_path_pins_and_forces_headers(net):
    r = net.call("request", {"url": f"https://good.test:{net.port}/echo?x=1", "header": {"X-A": "1"}})
    assert r["statusCode"] == 200 and r["errMsg"] == "request:ok"
    got = r["data"]
    assert got["path"] == "/echo?x=1" and got["headers"]["Host"] == f"good.test:{net.port}"
    assert got["headers"]["Referer"] == "https://servicewechat.com/wxapp_a/0/page-frame.html"
    assert got["headers"]["X-A"] == "1"
    assert net.server.seen.sni[-1] == "good.test"
    assert net.services.network.connections[-1] == ("request", "good.test", "127.0.0.1")


def test_request_bodies_and_response_types(net):
    base = f"https://good.test:{net.port}"
    r = net.call("request", {"url": f"{base}/echo", "method": "POST", "data": {"a": [1, 2]}})
    assert json.loads(r["data"]["body"]) == {"a": [1, 2]}
    assert r["data"]["headers"]["content-type"] == "application/json"
    r = net.call("request", {"url": f"{base}/echo", "method": "post", "data": {"a": "b c"},
                             "header": {"content-type": "application/x-www-form-urlencoded"}})
    assert r["data"]["body"] == "a=b+c"
    r = net.call("request", {"url": f"{base}/echo?z=1", "data": {"q": "1"}})
    assert r["data"]["path"] == "/echo?z=1&q=1"
    assert net.call("request", {"url": f"{base}/text"})["data"] == "not json"
    ab = net.call("request", {"url": f"{base}/text", "responseType": "arraybuffer"})["data"]
    assert ab["__type"] == "ArrayBuffer"
    assert net.call("request", {"url": f"{base}/cookie"})["cookies"] == ["sid=1; Secure"]


def test_net01_not_allowlisted_fails_with_wechat_string_and_audit(net):
    n = seen_count(net.server)
    err = net.fail("request", {"url": f"https://other.test:{net.port}/x"})
    assert err.err_msg == "request:fail url not in domain list" and err.errno == 600002
    assert seen_count(net.server) == n
    ev = net.services.audit.entries(event="network.refused")
    assert ev and ev[-1]["rule"] == "not-allowlisted" and ev[-1]["app"] == "wxapp_a"


SCHEMES = ["http://good.test/", "ws://good.test/", "ftp://good.test/", "file:///etc/passwd", "data:text/html,x",
           "gopher://good.test/", "javascript:alert(1)", "//good.test/", "wss://good.test/", "good.test/x"]


@pytest.mark.parametrize("url", SCHEMES)
def test_net02_only_https(net, url):
    n = seen_count(net.server)
    err = net.fail("request", {"url": url})
    assert err.err_msg in ("request:fail url not in domain list", "request:fail invalid url")
    assert seen_count(net.server) == n


def test_net02_uppercase_scheme_normalised(net):
    assert net.call("request", {"url": f"HTTPS://good.test:{net.port}/"})["statusCode"] == 200


IP_URLS = ["https://127.0.0.1/", "https://2130706433/", "https://0177.0.0.1/", "https://0x7f.1/", "https://127.1/",
           "https://0.0.0.0/", "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/",
           "https://[::ffff:a9fe:a9fe]/", "https://169.254.169.254/", "https://[fe80::1%25eth0]/",
           "https://10.0.0.1:8443/", "https://0x7f000001/", "https://127.0.0.1./", "https://１２７.０.０.１/"]


@pytest.mark.parametrize("url", IP_URLS)
def test_net03_ip_literals_refused(net, url):
    with pytest.raises(UrlRefused) as ei:
        parse_url(url)
    assert ei.value.rule in ("ip-literal", "invalid-host")
    err = net.fail("request", {"url": url})
    assert err.err_msg in ("request:fail url not in domain list", "request:fail invalid url")


@pytest.mark.parametrize("url", ["https://localhost/", "https://LOCALHOST./", "https://a.localhost/",
                                 "https://x.LocalHost/"])
def test_net04_localhost_names_refused(url):
    with pytest.raises(UrlRefused) as ei:
        parse_url(url)
    assert ei.value.rule == "localhost"


PRIVATE_ANSWERS = [["127.0.0.1"], ["10.0.0.1"], ["169.254.169.254"], ["::1"], ["fc00::1"], ["0.0.0.0"],
                   ["::ffff:127.0.0.1"], ["::ffff:a9fe:a9fe"], ["2002:7f00:1::1"], ["100.64.0.1"], ["192.168.1.1"],
                   ["fe80::1"], ["8.8.8.8", "10.1.1.1"], ["172.16.0.1"], ["fe80::1%eth0"], ["64:ff9b::7f00:1"],
                   ["224.0.0.1"], []]


@pytest.mark.parametrize("answer", PRIVATE_ANSWERS, ids=[",".join(a) or "empty" for a in PRIVATE_ANSWERS])
def test_net04_allowlisted_name_resolving_to_private_refused(make_instance, tls_server, answer):
    res = MapResolver({"good.test": [answer]})
    inst = make_instance(grants=AppGrants.build(request=[f"https://good.test:{tls_server.port}"]), resolver=res)
    n = seen_count(tls_server)
    err = inst.fail("request", {"url": f"https://good.test:{tls_server.port}/"})
    assert err.err_msg == "request:fail resolved address not allowed"
    assert seen_count(tls_server) == n
    assert inst.services.audit.entries(event="network.refused")[-1]["rule"].startswith("address:")


@pytest.mark.parametrize("addr", ["169.254.169.254", "0.0.0.0", "::", "::ffff:169.254.169.254", "fd00:ec2::254",
                                  "100.100.100.200", "224.0.0.1"])
def test_metadata_and_unspecified_refused_even_when_networks_allowed(addr):
    nets = tuple(ipaddress.ip_network(n) for n in ("0.0.0.0/0", "::/0"))
    with pytest.raises(AddressRefused):
        vet_address(addr, nets)


def test_allowed_private_network_for_banks():
    net = (ipaddress.ip_network("10.20.0.0/16"),)
    assert str(vet_address("10.20.3.4", net)) == "10.20.3.4"
    assert str(vet_address("::ffff:10.20.3.4", net)) == "10.20.3.4"
    with pytest.raises(AddressRefused):
        vet_address("10.21.0.1", net)
    assert str(vet_address("8.8.8.8")) == "8.8.8.8"


def test_net05_dns_rebinding_second_answer_never_used(net, resolver):
    resolver.set("good.test", ["127.0.0.1"], ["10.0.0.1"], ["169.254.169.254"])
    resolver.calls.clear()
    r = net.call("request", {"url": f"https://good.test:{net.port}/"})
    assert r["statusCode"] == 200 and resolver.calls == ["good.test"]
    assert net.services.network.connections[-1][2] == "127.0.0.1"
    # the next lookup returns the private answer: refused (fail closed), never connected
    n = seen_count(net.server)
    assert net.fail("request", {"url": f"https://good.test:{net.port}/"}).err_msg.endswith("address not allowed")
    assert seen_count(net.server) == n


def _redir(net, to: str, code: int = 302) -> str:
    from urllib.parse import quote

    return f"https://good.test:{net.port}/redirect?code={code}&to={quote(to, safe='')}"


@pytest.mark.parametrize("to", ["https://other.test:{p}/x", "http://good.test:{p}/", "https://127.0.0.1:{p}/",
                                "https://169.254.169.254/latest/meta-data", "//evil.test:{p}/",
                                "https://user@good.test:{p}/", "https://good.test/", "file:///etc/passwd"])
@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_net06_redirect_hops_revalidated(net, to, code):
    n = seen_count(net.server)
    err = net.fail("request", {"url": _redir(net, to.format(p=net.port), code)})
    assert err.err_msg in ("request:fail url not in domain list", "request:fail invalid url")
    assert seen_count(net.server) == n + 1  # only the first hop reached a server


def test_net06_allowed_redirect_strips_credentials_cross_host(net):
    r = net.call("request", {"url": _redir(net, f"https://api.good.test:{net.port}/final"),
                             "header": {"Authorization": "Bearer s3cret", "Cookie": "a=b", "X-Keep": "1"}})
    got = r["data"]
    assert got["path"] == "/final" and "Authorization" not in got["headers"] and "Cookie" not in got["headers"]
    assert got["headers"]["X-Keep"] == "1" and net.server.seen.sni[-1] == "api.good.test"


def test_net06_303_turns_post_into_get_and_loops_capped(net):
    r = net.call("request", {"url": _redir(net, "/echo", 303), "method": "POST", "data": "x"})
    assert r["data"]["method"] == "GET"
    loop = f"https://good.test:{net.port}/redirect?to=/redirect%3Fto%3D/redirect"
    assert net.fail("request", {"url": loop}).err_msg == "request:fail too many redirects"


PARSER_CONFUSION = ["https://good.test@evil.test/", "https://good.test:443@evil.test", "https://evil.test\\@good.test",
                    "https://evil.test#@good.test", "https://good.test%40evil.test", "https:/\\evil.test",
                    "https:evil.test", " https://good.test/", "https://good.test/\tx", "https://good.test/\nx",
                    "https://good.test\r\n/", "\x00https://good.test/", "https://goo\x00d.test/", "http://abc#@def",
                    "https://good.test:/", "https://[good.test]/", "https://good.test\u3002evil.test/",
                    "https://good.test\u200b/", "https://*.good.test/", "https://good_test/", "https://./",
                    "https://good..test/", "https://-good.test/", "https://good.test:-1/", "https://" + "a" * 9000]


@pytest.mark.parametrize("url", PARSER_CONFUSION)
def test_net07_parser_confusion_refused(net, url):
    n = seen_count(net.server)
    err = net.fail("request", {"url": url})
    assert err.err_msg in ("request:fail invalid url", "request:fail url not in domain list")
    assert seen_count(net.server) == n


@pytest.mark.parametrize("host", ["GOOD.TEST", "good.test.", "Good.Test.", "ｇｏｏｄ.test"])
def test_net08_case_trailing_dot_fullwidth_normalise_to_the_same_host(net, host):
    r = net.call("request", {"url": f"https://{host}:{net.port}/"})
    assert r["statusCode"] == 200 and net.server.seen.sni[-1] == "good.test"
    assert r["data"]["headers"]["Host"] == f"good.test:{net.port}"


@pytest.mark.parametrize("host", ["gооd.test", "good.test.evil.test", "evilgood.test", "good.tes", "api.good.test.",
                                  "xn--80ak6aa92e.com", "аррӏе.com", "sub.good.test"])
def test_net08_lookalikes_and_suffixes_not_matched(make_instance, host):
    inst = make_instance(grants=AppGrants.build(request=["https://good.test", "https://apple.com"]))
    err = inst.fail("request", {"url": f"https://{host}/"})
    assert err.err_msg in ("request:fail url not in domain list", "request:fail invalid url")


PORT_CASES = [("https://good.com", "https://good.com/", True), ("https://good.com", "https://good.com:443/", False),
              ("https://good.com", "https://good.com:8443/", False),
              ("https://good.com:8080", "https://good.com:8080/x", True),
              ("https://good.com:8080", "https://good.com/", False),
              ("https://good.com:8080", "https://good.com:8081/", False)]


@pytest.mark.parametrize(("entry", "url", "ok"), PORT_CASES)
def test_net09_exact_port_rules(entry, url, ok):
    assert Allowlist({"request": [entry]}).allows("request", parse_url(url)) is ok


@pytest.mark.parametrize("url", ["https://good.com:08080/", "https://good.com:65536/", "https://good.com:0/",
                                 "https://good.com:/", "https://good.com:80a/", "https://good.com: 80/"])
def test_net09_invalid_ports(url):
    with pytest.raises(UrlRefused):
        parse_url(url)


def test_net09_wss_entry_without_port_allows_any_port():
    al = Allowlist({"socket": ["wss://ws.good.com"]})
    assert al.allows("socket", parse_url("wss://ws.good.com:9443/", ("wss",)))
    assert not Allowlist({"socket": ["wss://ws.good.com:1"]}).allows("socket", parse_url("wss://ws.good.com:2/", ("wss",)))


@pytest.mark.parametrize("entry", ["http://a.com", "https://127.0.0.1", "https://localhost", "https://169.254.169.254",
                                   "*.com", "https://*.good.com", "https://api.weixin.qq.com", "https://a.com/path",
                                   "https://u@a.com", "https://[::1]", "wss://a.com"])
def test_mgt08_allowlist_entries_validated(entry):
    with pytest.raises(AllowlistError) as ei:
        Allowlist({"request": [entry]})
    assert ei.value.entry == entry and ei.value.rule


def test_mgt08_more_than_20_domains_refused():
    with pytest.raises(AllowlistError, match="more than 20"):
        Allowlist({"request": [f"https://a{i}.com" for i in range(21)]})


def test_net10_certificate_for_other_name_refused(net):
    err = net.fail("request", {"url": f"https://nocert.test:{net.port}/"})
    assert err.err_msg == "request:fail ssl hand shake error"


def test_net10_untrusted_ca_refused(make_instance, tls_server, resolver):
    from minibox.policy.network import default_ssl_context

    inst = make_instance(grants=AppGrants.build(request=[f"https://good.test:{tls_server.port}"],
                                                allowed_networks=["127.0.0.0/8"]),
                         resolver=resolver)
    inst.services.network.ssl_context = default_ssl_context()
    assert inst.fail("request", {"url": f"https://good.test:{tls_server.port}/"}).err_msg == \
        "request:fail ssl hand shake error"
    assert inst.services.network.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("header", [{"X-A": "a\r\nInjected: 1"}, {"X-A\r\nB": "1"}, {"X A": "1"}, {"X-A": "a\nb"},
                                    {"": "1"}, {"X-A": ["list"]}, {f"H{i}": "v" for i in range(65)},
                                    {"X-A": "v" * 9000}, {"X-A": "\x00"}])
def test_net11_bad_headers_refused(net, header):
    n = seen_count(net.server)
    err = net.fail("request", {"url": f"https://good.test:{net.port}/", "header": header})
    assert err.err_msg.startswith("request:fail parameter error")
    assert seen_count(net.server) == n


def test_utf8_header_values_are_sent_not_crashed(net):
    r = net.call("request", {"url": f"https://good.test:{net.port}/", "header": {"X-Name": "张三", "X-N": 5}})
    assert r["data"]["headers"]["X-N"] == "5"
    assert r["data"]["headers"]["X-Name"].encode("latin-1").decode("utf-8") == "张三"


def test_net11_host_and_referer_cannot_be_overridden(net):
    r = net.call("request", {"url": f"https://good.test:{net.port}/",
                             "header": {"Host": "evil.test", "Referer": "https://evil/", "Connection": "close",
                                        "Transfer-Encoding": "chunked"}})
    h = r["data"]["headers"]
    assert h["Host"] == f"good.test:{net.port}" and h["Referer"].startswith("https://servicewechat.com/wxapp_a/")
    assert "Transfer-Encoding" not in h


@pytest.mark.parametrize("path", ["/big?n=5000", "/gzipbomb?n=3000000"])
def test_net12_response_caps_after_decompression(net, path):
    net.services.network.max_response = 4096
    err = net.fail("request", {"url": f"https://good.test:{net.port}{path}"})
    assert err.err_msg == "request:fail response too large"


@pytest.mark.parametrize(("args", "msg"), [
    ({"method": "CONNECT"}, "parameter error"), ({"method": "TRACE"}, "parameter error"),
    ({"timeout": -1}, "parameter error"), ({"timeout": float("nan")}, "parameter error"),
    ({"timeout": "1"}, "parameter error"), ({"url": 123}, "parameter error"), ({"url": None}, "parameter error"),
    ({"header": "x"}, "parameter error"), ({"data": {"n": float("nan")}, "method": "POST"}, "parameter error"),
])
def test_brg01_malformed_arguments(net, args, msg):
    full = {"url": f"https://good.test:{net.port}/", **args}
    assert msg in net.fail("request", full).err_msg


def test_timeout_capped_and_from_network_timeout(make_instance):
    inst = make_instance(app_json={"networkTimeout": {"request": 5000}})
    svc = inst.services.network
    assert svc.timeout_ms("request", {}) == 5000
    assert svc.timeout_ms("request", {"timeout": 10**9}) == 60_000
    assert svc.timeout_ms("uploadFile", {}) == 60_000


def test_brg05_at_most_ten_requests_in_flight(net):
    srv = net.server.httpd
    srv.release.clear()
    srv.max_active = 0
    results: list[Any] = []

    def one() -> None:
        results.append(net.call("request", {"url": f"https://good.test:{net.port}/hold"})["statusCode"])

    threads = [threading.Thread(target=one) for _ in range(13)]
    for t in threads:
        t.start()
    with srv.cv:
        assert srv.cv.wait_for(lambda: srv.active == 10, timeout=20)
    time.sleep(0.3)  # give the three queued calls a chance to (wrongly) get through
    with srv.cv:
        peak = srv.max_active
    srv.release.set()
    for t in threads:
        t.join()
    assert peak == 10 and results == [200] * 13


def test_net12_slow_server_times_out(net):
    net.server.httpd.release.clear()
    err = net.fail("request", {"url": f"https://good.test:{net.port}/hold", "timeout": 300})
    assert err.err_msg == "request:fail timeout"
    net.server.httpd.release.set()


def test_upload_reads_only_sandboxed_files(net):
    net.call("FileSystemManager.writeFile", {"filePath": "wxfile://usr/up.txt", "data": "UPLOAD-BODY"})
    r = net.call("uploadFile", {"url": f"https://good.test:{net.port}/up", "filePath": "wxfile://usr/up.txt",
                                "name": "file", "formData": {"k": "v"}})
    body = json.loads(r["data"])["body"]
    assert "UPLOAD-BODY" in body and 'name="k"' in body and r["statusCode"] == 200
    n = seen_count(net.server)
    for bad in ["/etc/passwd", "wxfile://usr/../../../etc/passwd", "wxfile://../wxapp_b/usr/x"]:
        err = net.fail("uploadFile", {"url": f"https://good.test:{net.port}/up", "filePath": bad, "name": "f"})
        assert "permission denied" in err.err_msg or "no such file" in err.err_msg
    assert seen_count(net.server) == n


def test_download_to_temp_and_user_path_only(net):
    r = net.call("downloadFile", {"url": f"https://good.test:{net.port}/big?n=10"})
    assert r["tempFilePath"].startswith("wxfile://tmp_")
    assert net.call("FileSystemManager.readFile", {"filePath": r["tempFilePath"], "encoding": "utf8"})["data"] == "x" * 10
    r = net.call("downloadFile", {"url": f"https://good.test:{net.port}/big?n=3", "filePath": "wxfile://usr/d.bin"})
    assert r["filePath"] == "wxfile://usr/d.bin"
    n = seen_count(net.server)
    err = net.fail("downloadFile", {"url": f"https://good.test:{net.port}/big?n=3", "filePath": "/tmp/evil"})
    assert err.err_msg.startswith("downloadFile:fail permission denied")
    assert seen_count(net.server) == n
    assert net.fail("downloadFile", {"url": f"https://api.good.test:{net.port}/"}).errno == 600002


# -- sockets -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wss_server(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.cert_file, pki.key_file)

    def echo(ws: Any) -> None:
        for msg in ws:
            if msg == "bomb":
                ws.send("x" * (5 * 1024 * 1024))
                continue
            if msg == "bye":
                ws.close(4000, "server bye")
                return
            ws.send(msg)

    server = serve(echo, "127.0.0.1", 0, ssl=ctx, max_size=None)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.socket.getsockname()[1]
    server.shutdown()


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.cv = threading.Condition()

    def __call__(self, ticket: str, ev: dict[str, Any]) -> None:
        with self.cv:
            self.items.append((ticket, ev))
            self.cv.notify_all()

    def wait(self, pred, timeout: float = 30) -> list[tuple[str, dict[str, Any]]]:
        end = time.monotonic() + timeout
        with self.cv:
            while not pred(self.items):
                left = end - time.monotonic()
                assert left > 0, f"events so far: {self.items}"
                self.cv.wait(left)
            return list(self.items)


@pytest.fixture
def sock_inst(make_instance, resolver):
    ev = Events()
    inst = make_instance(grants=AppGrants.build(socket=["wss://ws.good.test"], allowed_networks=["127.0.0.0/8"]),
                         resolver=resolver, on_event=ev)
    inst.events = ev
    return inst


def test_socket_echo_open_message_close(sock_inst, wss_server):
    tid = sock_inst.call("connectSocket", {"url": f"wss://ws.good.test:{wss_server}/chat"})["socketTaskId"]
    ev = sock_inst.events
    ev.wait(lambda it: any(e["type"] == "open" for _, e in it))
    sock_inst.call("SocketTask.send", {"socketTaskId": tid, "data": "hi"})
    sock_inst.call("SocketTask.send", {"socketTaskId": tid, "data": {"__type": "ArrayBuffer", "base64": "AAE="}})
    ev.wait(lambda it: sum(e["type"] == "message" for _, e in it) == 2)
    msgs = [e["data"] for _, e in ev.items if e["type"] == "message"]
    assert msgs == ["hi", {"__type": "ArrayBuffer", "base64": "AAE="}]
    sock_inst.call("SocketTask.send", {"socketTaskId": tid, "data": "bye"})
    items = ev.wait(lambda it: any(e["type"] == "close" for _, e in it))
    assert items[-1] == (tid, {"type": "close", "code": 4000, "reason": "server bye"})
    assert sock_inst.fail("SocketTask.send", {"socketTaskId": tid, "data": "x"}).err_msg == \
        "SocketTask.send:fail socket is not connected"


@pytest.mark.parametrize("url", ["ws://ws.good.test/", "https://ws.good.test/", "wss://other.test/", "wss://127.0.0.1/",
                                 "wss://u@ws.good.test/", "wss://ws.good.test\t/"])
def test_socket_url_policy(sock_inst, url):
    err = sock_inst.fail("connectSocket", {"url": url})
    assert err.err_msg in ("connectSocket:fail url not in domain list", "connectSocket:fail invalid url")


def test_socket_cap_five(sock_inst, wss_server):
    ids = [sock_inst.call("connectSocket", {"url": f"wss://ws.good.test:{wss_server}/"})["socketTaskId"]
           for _ in range(5)]
    assert sock_inst.fail("connectSocket", {"url": f"wss://ws.good.test:{wss_server}/"}).err_msg == \
        "connectSocket:fail exceed max socket count 5"
    sock_inst.events.wait(lambda it: sum(e["type"] == "open" for _, e in it) == 5)
    for t in ids:
        sock_inst.call("SocketTask.close", {"socketTaskId": t})
    sock_inst.events.wait(lambda it: sum(e["type"] == "close" for _, e in it) == 5)
    sock_inst.call("connectSocket", {"url": f"wss://ws.good.test:{wss_server}/"})


def test_socket_private_answer_refused(make_instance):
    inst = make_instance(grants=AppGrants.build(socket=["wss://ws.good.test"]),
                         resolver=MapResolver({"ws.good.test": [["127.0.0.1"]]}))
    assert inst.fail("connectSocket", {"url": "wss://ws.good.test/"}).err_msg == \
        "connectSocket:fail resolved address not allowed"


def test_socket_tls_name_mismatch_reports_error_event(make_instance, wss_server):
    ev = Events()
    inst = make_instance(grants=AppGrants.build(socket=["wss://nocert.test"], allowed_networks=["127.0.0.0/8"]),
                         resolver=MapResolver({"nocert.test": [["127.0.0.1"]]}), on_event=ev)
    inst.call("connectSocket", {"url": f"wss://nocert.test:{wss_server}/"})
    items = ev.wait(lambda it: any(e["type"] == "close" for _, e in it))
    assert items[0][1] == {"type": "error", "errMsg": "ssl hand shake error"}




def test_net12_socket_message_bomb_closes_with_1009(sock_inst, wss_server):
    tid = sock_inst.call("connectSocket", {"url": f"wss://ws.good.test:{wss_server}/"})["socketTaskId"]
    sock_inst.call("SocketTask.send", {"socketTaskId": tid, "data": "bomb"})
    items = sock_inst.events.wait(lambda it: any(e["type"] == "close" for _, e in it))
    assert items[-1][1]["code"] == 1009
    assert not any(e["type"] == "message" for _, e in items)


def test_net15_background_interrupts_in_flight_requests(net):
    srv = net.server.httpd
    srv.release.clear()
    errs: list[str] = []

    def one() -> None:
        try:
            net.call("request", {"url": f"https://good.test:{net.port}/hold"})
        except Exception as e:
            errs.append(str(e))

    t = threading.Thread(target=one)
    t.start()
    with srv.cv:
        assert srv.cv.wait_for(lambda: srv.active >= 1, timeout=20)
    net.services.network.on_background(grace_s=0)
    t.join()
    srv.release.set()
    assert errs == ["request:fail interrupted"]
    assert net.fail("request", {"url": f"https://good.test:{net.port}/"}).err_msg == "request:fail interrupted"
    net.services.network.on_foreground()
    assert net.call("request", {"url": f"https://good.test:{net.port}/"})["statusCode"] == 200


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                       lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                       max_leaves=8)


def test_brg02_generated_request_options_give_a_result_or_a_typed_error(net, caplog):
    from hypothesis import HealthCheck, given, settings

    base = f"https://good.test:{net.port}/echo"
    keys = ["url", "data", "header", "method", "timeout", "dataType", "responseType", "enableHttp2"]
    outcomes = {"ok": 0, "err": 0}

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(st.sampled_from(keys), JSONISH | st.sampled_from([base, "GET", "POST", 1000]), max_size=5))
    def check(opts: dict[str, Any]) -> None:
        opts.setdefault("url", base)
        try:
            r = net.call("request", opts)
            assert r["errMsg"] == "request:ok"
            outcomes["ok"] += 1
        except ApiError as e:
            assert e.err_msg.startswith("request:fail ") and "Traceback" not in e.err_msg
            outcomes["err"] += 1

    check()
    assert outcomes["ok"] > 0 and outcomes["err"] > 0
    assert not [r for r in caplog.records if "unexpectedly" in r.getMessage()]
