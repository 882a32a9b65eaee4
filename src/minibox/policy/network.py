"""The network service behind wx.request, uploadFile, downloadFile and connectSocket.

Threading contract (for the container):
- `request`, `upload_file` and `download_file` are *blocking* and thread-safe: the container runs
  them in a thread pool (never on the sandbox's thread) and delivers the result dict, or the
  `ApiError`, to the pending ticket. At most `MAX_CONCURRENT_REQUESTS` (10, WeChat) run at once per
  service; further calls wait for a slot within their own timeout.
- `connect_socket` validates, resolves and vets synchronously (fast), returns
  `{"socketTaskId": id}`, and runs the TLS + WebSocket handshake and the receive loop on its own
  daemon thread. Everything that happens later is delivered through `on_event(ticket, event)`
  (`ticket` = socketTaskId), with events `{"type": "open", "header": {...}}`,
  `{"type": "message", "data": str | {"__type": "ArrayBuffer", "base64": ...}}`,
  `{"type": "error", "errMsg": ...}` and `{"type": "close", "code": int, "reason": str}` (always
  last). `on_event` is called from the socket thread: it must be thread-safe and must not block.
  At most `MAX_SOCKETS` (5, WeChat) are open per service. `close()` ends every socket.
- Lifecycle: `on_background()` when the app goes to the background (requests still running 5 s
  later fail with `<api>:fail interrupted`, as in WeChat; new ones fail at once), `on_foreground()`
  when it comes back; `interrupt_requests()` does it immediately.

Security: every URL (and every redirect hop) goes through `urlpolicy` (parse -> allowlist ->
resolve once -> vet every address); the connection is made to the vetted IP with SNI and Host set
to the validated name, so a second DNS answer is never used (no rebinding). Redirects are
followed (at most `MAX_REDIRECTS`), each hop re-validated from scratch, with Authorization and
Cookie dropped on a change of host (design choice: WeChat's docs are silent). TLS >= 1.2 with
full certificate verification; response bodies are capped after decompression.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import itertools
import json
import socket
import ssl
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

import httpcore
import httpx

from minibox.policy.grants import AppConfig, AppGrants
from minibox.policy.urlpolicy import (
    AddressRefused,
    Allowlist,
    Resolver,
    SafeUrl,
    SystemResolver,
    UrlRefused,
    parse_url,
    vet_addresses,
)
from minibox.securechannel import ChannelError, SecureOrigin

MAX_CONCURRENT_REQUESTS = 10
MAX_SOCKETS = 5
#: WeChat: the default and the maximum timeout is 60 s.
MAX_TIMEOUT_MS = 60_000
MAX_REDIRECTS = 5
#: Body caps after decompression (design choice; WeChat documents none).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MAX_REQUEST_BYTES = 16 * 1024 * 1024
MAX_WS_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_HEADERS = 64
MAX_CONNECTION_LOG = 1000
MAX_HEADER_VALUE = 8192
METHODS = ("OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
#: Headers the app may not set; Host and Referer are forced (WeChat fixes Referer).
FORBIDDEN_HEADERS = frozenset({
    "host", "referer", "content-length", "connection", "transfer-encoding", "upgrade", "te",
    "keep-alive", "trailer", "proxy-authorization", "proxy-connection", "expect",
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-accept"})
ERRNO_DOMAIN = 600002
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _caused_by(e: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


class NetError(Exception):
    """A failure reported as `<api>:fail <reason>`; `rule` is for the audit log."""

    def __init__(self, reason: str, rule: str = "", errno: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.rule, self.errno = reason, rule or reason, errno


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The system's trust store, TLS 1.2 or newer; made once per process (loading the CA certificates
    took 19 ms of every instance's start) and shared: a client context is safe to share."""
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@dataclass(frozen=True)
class Target:
    url: SafeUrl
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address


EventSink = Callable[[str, dict[str, Any]], None]
#: WeChat: requests still running this long after the app went to the background fail.
BACKGROUND_GRACE_S = 5.0


class _TrackedStream(httpcore.NetworkStream):
    """Delegates to httpcore's stream; registers the socket again after TLS wraps it."""

    def __init__(self, inner: httpcore.NetworkStream, svc: NetworkService) -> None:
        self.inner, self.svc = inner, svc
        svc._track(inner.get_extra_info("socket"))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, timeout)

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _TrackedStream(self.inner.start_tls(ssl_context, server_hostname, timeout), self.svc)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _TrackingBackend(httpcore.SyncBackend):
    """Records every socket so `interrupt_requests` can shut them down from another thread."""

    def __init__(self, svc: NetworkService) -> None:
        self.svc = svc

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _TrackedStream(super().connect_tcp(*args, **kwargs), self.svc)


class NetworkService:
    def __init__(self, grants: AppGrants, config: AppConfig | None = None, *,
                 resolver: Resolver | None = None, ssl_context: ssl.SSLContext | None = None,
                 files: Any = None, on_event: EventSink | None = None,
                 max_response: int = MAX_RESPONSE_BYTES, max_download: int = MAX_DOWNLOAD_BYTES) -> None:
        self.grants = grants
        self.allowlist = Allowlist(grants.domains)
        self.config = config or AppConfig()
        self.resolver: Resolver = resolver or SystemResolver()
        self.ssl_context = ssl_context or default_ssl_context()
        self.files = files
        self.on_event = on_event
        self.max_response = max_response
        self.max_download = max_download
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_REQUESTS)
        self._sockets: dict[str, _Socket] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._live: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._interrupted = False
        self._bg_timer: threading.Timer | None = None
        #: (kind, validated host, connected ip) of the last connections, for audits and tests.
        self.connections: deque[tuple[str, str, str]] = deque(maxlen=MAX_CONNECTION_LOG)
        #: host name -> the secure channel to the app's own backend there (minibox.securechannel):
        #: wx.request to it is signed (and sealed) by the host, its answer verified before delivery
        self.channels: dict[str, SecureOrigin] = {}

    # -- policy ------------------------------------------------------------------------------
    def vet(self, kind: str, raw: Any) -> Target:
        schemes = ("wss",) if kind == "socket" else ("https",)
        try:
            url = parse_url(raw, schemes)
        except UrlRefused as e:
            if e.kind == "domain":
                raise NetError("url not in domain list", e.rule, ERRNO_DOMAIN) from None
            raise NetError("invalid url", e.rule) from None
        if not self.allowlist.allows(kind, url):
            raise NetError("url not in domain list", "not-allowlisted", ERRNO_DOMAIN)
        try:
            addrs = self.resolver.resolve(url.host, url.effective_port)
        except OSError:
            raise NetError("resolve host failed", "dns") from None
        try:
            ips = vet_addresses(addrs, self.grants.allowed_networks)
        except AddressRefused as e:
            raise NetError("resolved address not allowed", f"address:{e.rule}") from None
        return Target(url, ips[0])

    def timeout_ms(self, kind: str, args: dict[str, Any]) -> int:
        t = args.get("timeout")
        if t is None:
            t = self.config.network_timeout.get(kind, MAX_TIMEOUT_MS)
        if not isinstance(t, int | float) or isinstance(t, bool) or t != t or t <= 0:
            raise NetError("parameter error: parameter.timeout should be a positive Number", "bad-timeout")
        return int(min(t, MAX_TIMEOUT_MS))

    def _headers(self, header: Any) -> dict[str, str]:
        """Validated app headers (names are RFC 9110 tokens; values without CR, LF or NUL)."""
        if header is None:
            return {}
        if not isinstance(header, dict) or len(header) > MAX_HEADERS:
            raise NetError(f"parameter error: header should be an Object of at most {MAX_HEADERS} entries")
        out: dict[str, str] = {}
        for k, v in header.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            if isinstance(v, int | float):
                v = str(v)
            if (not isinstance(v, str) or not k or any(c not in _TOKEN for c in k)
                    or len(v) > MAX_HEADER_VALUE or any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in v)):
                raise NetError(f"parameter error: invalid header {k[:64]!r}", "bad-header")
            if k.lower() in FORBIDDEN_HEADERS:
                continue
            out[k] = v
        return out

    def _referer(self, ctx: Any) -> str:
        return f"https://servicewechat.com/{ctx.app_id}/{self.grants.app_version}/page-frame.html"

    # -- HTTP ------------------------------------------------------------------------------
    def _exchange(self, kind: str, ctx: Any, raw_url: Any, method: str, headers: dict[str, str],
                  timeout_ms: int, cap: int, **body: Any) -> tuple[httpx.Response, bytes]:
        deadline = time.monotonic() + timeout_ms / 1000
        if not self._slots.acquire(timeout=timeout_ms / 1000):
            raise NetError("timeout", "queue-timeout")
        try:
            url: Any = raw_url
            for _hop in range(MAX_REDIRECTS + 1):
                target = self.vet(kind, url)
                resp, data = self._send_once(kind, ctx, target, method, headers, deadline, cap, body)
                loc = resp.headers.get("location")
                if resp.status_code not in (301, 302, 303, 307, 308) or loc is None:
                    return resp, data
                nxt = urljoin(str(target.url), loc)
                try:
                    nxt_host = parse_url(nxt, ("https",)).host
                except UrlRefused:
                    nxt_host = None
                if nxt_host != target.url.host:
                    headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
                if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                    method, body = "GET", {}
                url = nxt
            raise NetError("too many redirects", "redirects")
        finally:
            self._slots.release()

    def _send_once(self, kind: str, ctx: Any, t: Target, method: str, headers: dict[str, str],
                   deadline: float, cap: int, body: dict[str, Any]) -> tuple[httpx.Response, bytes]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NetError("timeout", "deadline")
        channel = self.channels.get(t.url.host) if kind == "request" else None
        signed = None
        if channel is not None:
            content = body.get("content", b"")
            signed = channel.signer.sign_request(method, f"https://{t.url.authority}{t.url.target}", content,
                                                 encrypt=channel.encrypt and bool(content))
            headers = {k: v for k, v in headers.items() if not k.lower().startswith("x-mb-")} | signed.headers
            if content or signed.body:
                body = {**body, "content": signed.body}
        hdrs = {k: v.encode("utf-8", "surrogateescape") for k, v in
                {**headers, "Host": t.url.authority, "Referer": self._referer(ctx)}.items()}
        url = httpx.URL(scheme="https", host=str(t.ip), port=t.url.effective_port,
                        raw_path=t.url.target.encode("ascii"))
        self.connections.append((kind, t.url.host, str(t.ip)))
        try:
            transport = httpx.HTTPTransport(verify=self.ssl_context)
            transport._pool._network_backend = _TrackingBackend(self)  # pinned httpx 0.28 internals
            with httpx.Client(transport=transport, follow_redirects=False, trust_env=False,
                              timeout=httpx.Timeout(left)) as client:
                req = client.build_request(method, url, headers=hdrs,
                                           extensions={"sni_hostname": t.url.host}, **body)
                resp = client.send(req, stream=True)
                try:
                    chunks, size = [], 0
                    for chunk in resp.iter_bytes():
                        if self._interrupted:
                            raise NetError("interrupted", "background")
                        size += len(chunk)
                        if size > cap:
                            raise NetError("response too large", "response-cap")
                        if time.monotonic() > deadline:
                            raise NetError("timeout", "deadline")
                        chunks.append(chunk)
                    data = b"".join(chunks)
                    if signed is not None and channel is not None:
                        try:
                            data = channel.signer.verify_response(signed, resp.status_code, resp.headers, data)
                        except ChannelError as e:
                            raise NetError("response signature invalid", f"channel:{e.rule}") from None
                    return resp, data
                finally:
                    resp.close()
        except httpx.TimeoutException:
            raise NetError("timeout", "timeout") from None
        except httpx.HTTPError as e:
            if self._interrupted:
                raise NetError("interrupted", "background") from None
            if isinstance(e, httpx.ConnectError):
                if _caused_by(e, ssl.SSLError):
                    raise NetError("ssl hand shake error", "tls") from None
                raise NetError("connect failed", "connect") from None
            if isinstance(e, httpx.DecodingError):
                raise NetError("response decoding error", "decoding") from None
            raise NetError("network error", type(e).__name__) from None

    def request(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        method = str(args.get("method") or "GET").upper()
        if method not in METHODS:
            raise NetError(f"parameter error: method {method[:16]!r} not supported", "bad-method")
        headers = self._headers(args.get("header"))
        timeout = self.timeout_ms("request", args)
        data = args.get("data")
        raw_url = args.get("url")
        body: dict[str, Any] = {}
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        if data is not None:
            if method == "GET" and isinstance(data, dict):
                if not isinstance(raw_url, str):
                    raise NetError("invalid url", "not-a-string")
                raw_url += ("&" if "?" in raw_url else "?") + urlencode(
                    {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
            else:
                body["content"] = self._body(data, ctype)
                if ctype is None and isinstance(data, dict | list):
                    headers["content-type"] = "application/json"
        resp, raw = self._exchange("request", ctx, raw_url, method, headers, timeout, self.max_response, **body)
        return {"data": self._decode(raw, resp, args.get("dataType"), args.get("responseType")),
                "statusCode": resp.status_code, "header": dict(resp.headers),
                "cookies": resp.headers.get_list("set-cookie")}

    @staticmethod
    def _body(data: Any, ctype: str | None) -> bytes:
        from minibox.apis.files import decode_data

        if isinstance(data, dict) and data.get("__type") == "ArrayBuffer":
            out = decode_data(data, None)
        elif isinstance(data, str):
            out = data.encode("utf-8", "surrogatepass")
        elif ctype and "x-www-form-urlencoded" in ctype.lower() and isinstance(data, dict):
            out = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}).encode()
        else:
            try:
                out = json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
            except (ValueError, TypeError, RecursionError):
                raise NetError("parameter error: data is not JSON-serialisable", "bad-body") from None
        if len(out) > MAX_REQUEST_BYTES:
            raise NetError("request body too large", "request-cap")
        return out

    @staticmethod
    def _decode(raw: bytes, resp: httpx.Response, data_type: Any, response_type: Any) -> Any:
        if response_type == "arraybuffer":
            from minibox.apis.files import array_buffer

            return array_buffer(raw)
        text = raw.decode(resp.encoding or "utf-8", "replace")
        if (data_type or "json") == "json":
            with contextlib.suppress(ValueError, RecursionError):
                return json.loads(text)
        return text

    def upload_file(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        from minibox.apis.storage import owner_of

        if self.files is None:
            raise NetError("file system unavailable")
        content = self.files.read_file(owner_of(ctx), args.get("filePath"))
        name = args.get("name")
        if not isinstance(name, str) or not name:
            raise NetError("parameter error: parameter.name should be String")
        form = args.get("formData") or {}
        if not isinstance(form, dict):
            raise NetError("parameter error: parameter.formData should be Object")
        fname = str(args.get("filePath")).rsplit("/", 1)[-1]
        body = {"files": {name: (fname, content)},
                "data": {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}}
        resp, raw = self._exchange("uploadFile", ctx, args.get("url"), "POST", self._headers(args.get("header")),
                                   self.timeout_ms("uploadFile", args), self.max_response, **body)
        return {"data": raw.decode("utf-8", "replace"), "statusCode": resp.status_code}

    def download_file(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        from minibox.apis.storage import owner_of
        from minibox.policy.files import parse_path

        if self.files is None:
            raise NetError("file system unavailable")
        dest = args.get("filePath")
        if dest is not None and not parse_path(dest).writable:
            from minibox.policy.files import EACCES, FsError

            raise FsError(EACCES, f"{EACCES}, open {dest}")
        resp, raw = self._exchange("downloadFile", ctx, args.get("url"), "GET", self._headers(args.get("header")),
                                   self.timeout_ms("downloadFile", args), self.max_download)
        o = owner_of(ctx)
        if dest is not None:
            self.files.write_file(o, dest, raw)
            return {"filePath": dest, "statusCode": resp.status_code}
        path = args.get("url", "")
        suffix = "." + path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
        return {"tempFilePath": self.files.create_temp(o, raw, suffix), "statusCode": resp.status_code}

    # -- WebSocket -------------------------------------------------------------------------
    def connect_socket(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        headers = self._headers(args.get("header"))
        protocols = args.get("protocols") or []
        if not isinstance(protocols, list) or not all(isinstance(p, str) and p and set(p) <= _TOKEN
                                                      for p in protocols):
            raise NetError("parameter error: protocols should be String[]")
        timeout = self.timeout_ms("connectSocket", args)
        target = self.vet("socket", args.get("url"))
        with self._lock:
            live = [s for s in self._sockets.values() if not s.done]
            if len(live) >= MAX_SOCKETS:
                raise NetError(f"exceed max socket count {MAX_SOCKETS}", "socket-cap")
            ticket = f"socket-{next(self._ids)}"
            sock = _Socket(self, ticket, target, headers, protocols, timeout, self._referer(ctx))
            self._sockets[ticket] = sock
        self.connections.append(("socket", target.url.host, str(target.ip)))
        sock.start()
        return {"socketTaskId": ticket}

    def _socket(self, ticket: Any) -> _Socket:
        s = self._sockets.get(ticket) if isinstance(ticket, str) else None
        if s is None or s.done:
            raise NetError("socket is not connected", "no-socket")
        return s

    def socket_send(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        from minibox.apis.files import decode_data

        s = self._socket(args.get("socketTaskId"))
        data = args.get("data")
        payload: str | bytes = decode_data(data, None) if isinstance(data, dict) else data
        if not isinstance(payload, str | bytes) or len(payload) > MAX_WS_MESSAGE_BYTES:
            raise NetError("parameter error: data should be String/ArrayBuffer within the size limit")
        s.send(payload)
        return {}

    def socket_close(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        code = args.get("code", 1000)
        if not isinstance(code, int) or not (code == 1000 or 3000 <= code <= 4999):
            raise NetError("parameter error: code should be 1000 or in 3000-4999")
        self._socket(args.get("socketTaskId")).close(code, str(args.get("reason") or ""))
        return {}

    # -- lifecycle (called by the container) ------------------------------------------------
    def _track(self, sock: socket.socket | None) -> None:
        with self._lock:
            if self._interrupted:
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                raise httpcore.ConnectError("interrupted")
            if sock is not None:
                self._live.add(sock)

    def interrupt_requests(self) -> None:
        """Fail every in-flight request/upload/download with `<api>:fail interrupted`."""
        with self._lock:
            self._interrupted = True
            live = list(self._live)
            self._live = weakref.WeakSet()
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def on_background(self, grace_s: float = BACKGROUND_GRACE_S) -> None:
        """The app went to the background: interrupt what is still running after `grace_s`."""
        self.on_foreground()
        self._bg_timer = threading.Timer(grace_s, self.interrupt_requests)
        self._bg_timer.daemon = True
        self._bg_timer.start()

    def on_foreground(self) -> None:
        if self._bg_timer is not None:
            self._bg_timer.cancel()
            self._bg_timer = None
        with self._lock:
            self._interrupted = False

    def emit(self, ticket: str, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            with contextlib.suppress(Exception):
                self.on_event(ticket, event)

    def close(self) -> None:
        for s in list(self._sockets.values()):
            s.close(1001, "instance closed")


class _Socket:
    def __init__(self, svc: NetworkService, ticket: str, t: Target, headers: dict[str, str],
                 protocols: list[str], timeout_ms: int, referer: str) -> None:
        self.svc, self.ticket, self.t = svc, ticket, t
        self.headers, self.protocols, self.timeout = headers, protocols, timeout_ms / 1000
        self.referer = referer
        self.conn: Any = None
        self.done = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mb-{ticket}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        code, reason = 1006, "abnormal closure"
        try:
            raw = socket.create_connection((str(self.t.ip), self.t.url.effective_port), timeout=self.timeout)
            try:
                cm = connect(
                    f"wss://{self.t.url.authority}{self.t.url.target}", sock=raw, ssl=self.svc.ssl_context,
                    server_hostname=self.t.url.host, open_timeout=self.timeout,
                    additional_headers={**self.headers, "Referer": self.referer},
                    subprotocols=self.protocols or None, max_size=MAX_WS_MESSAGE_BYTES, compression=None)
            except BaseException:
                raw.close()
                raise
            with cm as conn:
                self.conn = conn
                self._ready.set()
                self.svc.emit(self.ticket, {"type": "open", "header": dict(conn.response.headers.raw_items())})
                for msg in conn:
                    if isinstance(msg, bytes):
                        from minibox.apis.files import array_buffer

                        self.svc.emit(self.ticket, {"type": "message", "data": array_buffer(msg)})
                    else:
                        self.svc.emit(self.ticket, {"type": "message", "data": msg})
            code, reason = self._close_info()
        except ConnectionClosed as e:
            frame = e.rcvd or e.sent
            code, reason = (frame.code, frame.reason) if frame is not None else self._close_info()
        except ssl.SSLError:
            self.svc.emit(self.ticket, {"type": "error", "errMsg": "ssl hand shake error"})
        except (OSError, TimeoutError):  # no exception names reach the mini-program
            self.svc.emit(self.ticket, {"type": "error", "errMsg": "connect failed"})
        except Exception:  # websockets protocol errors (bad handshake, too big, ...)
            self.svc.emit(self.ticket, {"type": "error", "errMsg": "websocket error"})
        finally:
            self.done = True
            self._ready.set()
            self.svc.emit(self.ticket, {"type": "close", "code": code, "reason": reason})

    def _close_info(self) -> tuple[int, str]:
        code = getattr(self.conn, "close_code", None) if self.conn is not None else None
        if code is not None:
            return int(code), str(getattr(self.conn, "close_reason", "") or "")
        return 1006, "abnormal closure"

    def send(self, payload: str | bytes) -> None:
        self._ready.wait(self.timeout)
        if self.conn is None or self.done:
            raise NetError("socket is not connected", "no-socket")
        try:
            self.conn.send(payload)
        except Exception:
            raise NetError("socket is not connected", "send-failed") from None

    def close(self, code: int, reason: str) -> None:
        if self.conn is not None and not self.done:
            with contextlib.suppress(Exception):
                self.conn.close(code, reason)
