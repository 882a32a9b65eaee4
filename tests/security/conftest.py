"""Fixtures for the security suite: real SQLite, real files, real TLS servers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from minibox.apis.registry import ApiError, ApiRegistry, CallContext, Services
from minibox.policy import AppGrants, close_services, make_services, register_all

MASTER_KEY = b"k" * 32
HOST = "bank-host"
CERT_NAMES = ["good.test", "api.good.test", "other.test", "evil.test", "ws.good.test", "xn--80ak6aa92e.com",
              "ai.bank.example"]


# -- TLS material -------------------------------------------------------------------------------
@dataclass
class Pki:
    ca_pem: bytes
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("minibox test CA")).issuer_name(_name("minibox test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(_name("good.test")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in CERT_NAMES]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = d / "leaf.pem", d / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Pki(ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file)


# -- HTTPS test server ----------------------------------------------------------------------------
@dataclass
class Seen:
    sni: list[str | None] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, *a: Any) -> None:
        pass

    def _reply(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        rec = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
               "body": body.decode("latin-1")}
        self.server.seen.requests.append(rec)
        if u.path == "/hold":
            srv = self.server
            with srv.cv:
                srv.active += 1
                srv.max_active = max(srv.max_active, srv.active)
                srv.cv.notify_all()
            srv.release.wait(20)
            with srv.cv:
                srv.active -= 1
            self._reply(200, b"{}")
        elif u.path == "/redirect":
            self._reply(int(q.get("code", "302")), b"", {"Location": q.get("to", self.path)})
        elif u.path == "/big":
            self._reply(200, b"x" * int(q["n"]))
        elif u.path == "/gzipbomb":
            self._reply(200, gzip.compress(b"\0" * int(q["n"])), {"Content-Encoding": "gzip"})
        elif u.path == "/text":
            self._reply(200, b"not json", {"Content-Type": "text/plain"})
        elif u.path == "/cookie":
            self._reply(200, b"{}", {"Set-Cookie": "sid=1; Secure"})
        else:
            self._reply(200, json.dumps(rec).encode(), {"Content-Type": "application/json"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _handle


class TlsServer:
    def __init__(self, pki: Pki) -> None:
        self.seen = Seen()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.cert_file, pki.key_file)

        def sni(sock: Any, name: str | None, c: Any) -> None:
            self.seen.sni.append(name)

        ctx.sni_callback = sni
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.seen = self.seen  # type: ignore[attr-defined]
        self.httpd.cv = threading.Condition()  # type: ignore[attr-defined]
        self.httpd.active = self.httpd.max_active = 0  # type: ignore[attr-defined]
        self.httpd.release = threading.Event()  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class JsonReplies(BaseHTTPRequestHandler):
    """Base of the tests' own TLS backends (a bank's service): `_send` answers with headers and a body."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *a: Any) -> None:
        pass

    def _send(self, code: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_tls(pki: Pki, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """`handler` behind TLS with the test CA's certificate, on 127.0.0.1 (shut it down when done)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.cert_file, pki.key_file)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture(scope="session")
def tls_server(pki: Pki) -> Iterator[TlsServer]:
    s = TlsServer(pki)
    yield s
    s.close()


# -- resolver -------------------------------------------------------------------------------------
class MapResolver:
    """Maps names to a sequence of answers (the last one repeats); records every lookup."""

    def __init__(self, table: dict[str, list[list[str]]] | None = None) -> None:
        self.table = dict(table or {})
        self.calls: list[str] = []

    def set(self, name: str, *answers: list[str]) -> None:
        self.table[name] = list(answers)

    def resolve(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        seq = self.table.get(host)
        if not seq:
            raise OSError(f"no such host {host}")
        return seq.pop(0) if len(seq) > 1 else seq[0]


# -- instances ------------------------------------------------------------------------------------
@dataclass
class Instance:
    registry: ApiRegistry
    ctx: CallContext
    services: Services
    prompts: list[Any]

    def call(self, name: str, args: dict[str, Any] | None = None) -> Any:
        return self.registry.call(self.ctx, name, args or {})

    def fail(self, name: str, args: dict[str, Any] | None = None) -> ApiError:
        with pytest.raises(ApiError) as ei:
            self.call(name, args)
        return ei.value


@pytest.fixture
def make_instance(tmp_path: Path, pki: Pki) -> Iterator[Callable[..., Instance]]:
    made: list[Services] = []

    def make(app: str = "wxapp_a", user: str = "u1", *, grants: AppGrants | None = None,
             app_json: dict[str, Any] | None = None, consent: bool | Callable[..., bool] = True,
             privacy: str | Callable[..., str] = "agree", resolver: Any = None,
             registry: ApiRegistry | None = None, **kw: Any) -> Instance:
        prompts: list[Any] = []

        def consent_cb(req: Any) -> bool:
            prompts.append(req)
            return consent(req) if callable(consent) else consent

        def privacy_cb(req: Any) -> str:
            prompts.append(req)
            return privacy(req) if callable(privacy) else privacy

        if registry is None:
            registry = ApiRegistry()
            register_all(registry)
        services = make_services(tmp_path / "data", MASTER_KEY, app_json=app_json,
                                 grants=grants or AppGrants(), consent_callback=consent_cb,
                                 privacy_callback=privacy_cb, resolver=resolver or MapResolver(),
                                 ssl_context=pki.client_context(), **kw)
        made.append(services)
        return Instance(registry, CallContext(HOST, app, user, services), services, prompts)

    yield make
    for s in made:
        close_services(s)


