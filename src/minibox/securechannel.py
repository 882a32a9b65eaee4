"""The secure request channel between a mini-program and its own bank backend.

The host signs (and, if asked, encrypts) each `wx.request` a mini-program sends to one of its
backend origins, with a per-app key the mini-program never sees; the backend verifies it with this
module and signs its response, which the host verifies before the mini-program gets it. A forged,
altered, replayed or stale message is refused on either side with a typed error.

Keys: the host and the backend share one 32-byte secret per app (`ChannelKey`), or derive it from
a master secret with `ChannelKey.derive(master, app_id)`. From it HKDF makes a MAC key and an
encryption key, so the two uses never share key bytes.

Request headers (all ASCII):
- `X-Mb-App`: the app id;  `X-Mb-Ts`: Unix time in seconds;  `X-Mb-Nonce`: 16 random bytes, hex;
- `X-Mb-Enc`: `aes256gcm` when the body is sealed (then the body is 12-byte nonce + ciphertext);
- `X-Mb-Sig`: `v1=` + base64url HMAC-SHA256 of the canonical string
  `v1\\n{METHOD}\\n{path?query}\\n{host}\\n{app}\\n{ts}\\n{nonce}\\n{enc}\\n{sha256(body as sent)}`.
A response carries `X-Mb-Ts`, `X-Mb-Nonce`, `X-Mb-Enc` and `X-Mb-Sig` over
`v1-resp\\n{status}\\n{request nonce}\\n{ts}\\n{nonce}\\n{enc}\\n{sha256(body)}`, bound to its request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
ENC_ALG = "aes256gcm"
#: Largest clock difference accepted between signer and verifier, in seconds.
MAX_SKEW_S = 300
#: Nonces remembered per verifier (a replay within the skew window is refused).
MAX_NONCES = 200_000
H_APP, H_TS, H_NONCE, H_ENC, H_SIG = "X-Mb-App", "X-Mb-Ts", "X-Mb-Nonce", "X-Mb-Enc", "X-Mb-Sig"


class ChannelError(Exception):
    """A message failed verification; `rule` names the check."""

    rule = "channel"

    def __init__(self, message: str) -> None:
        super().__init__(f"{self.rule}: {message}")


class MalformedError(ChannelError):
    rule = "malformed"


class TamperError(ChannelError):
    rule = "tampered"


class ReplayError(ChannelError):
    rule = "replay"


class ClockSkewError(ChannelError):
    rule = "clock-skew"


@dataclass(frozen=True)
class ChannelKey:
    """One app's channel secret, with the MAC and encryption keys derived from it."""

    app_id: str
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("a channel secret has at least 32 bytes")

    @classmethod
    def derive(cls, master: bytes, app_id: str) -> ChannelKey:
        """The app's secret from a host-wide master secret (the backend can derive the same)."""
        return cls(app_id, _hkdf(master, b"minibox channel app " + app_id.encode()))

    @property
    def mac_key(self) -> bytes:
        return _hkdf(self.secret, b"minibox channel mac")

    @property
    def enc_key(self) -> bytes:
        return _hkdf(self.secret, b"minibox channel enc")


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(key: ChannelKey, text: str) -> str:
    return f"{VERSION}=" + _b64(hmac.new(key.mac_key, text.encode(), hashlib.sha256).digest())


def _target(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    path = parts.path or "/"
    return (f"{path}?{parts.query}" if parts.query else path), (parts.hostname or "").lower()


def _request_text(method: str, url: str, app: str, ts: str, nonce: str, enc: str, body: bytes) -> str:
    path, host = _target(url)
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([VERSION, method.upper(), path, host, app, ts, nonce, enc, digest])


def _response_text(status: int, request_nonce: str, ts: str, nonce: str, enc: str, body: bytes) -> str:
    return "\n".join([f"{VERSION}-resp", str(status), request_nonce, ts, nonce, enc,
                      hashlib.sha256(body).hexdigest()])


def _seal(key: ChannelKey, body: bytes, aad: bytes) -> bytes:
    iv = os.urandom(12)
    return iv + AESGCM(key.enc_key).encrypt(iv, body, aad)


def _open(key: ChannelKey, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 12 + 16:
        raise TamperError("sealed body too short")
    try:
        return AESGCM(key.enc_key).decrypt(sealed[:12], sealed[12:], aad)
    except InvalidTag:
        raise TamperError("sealed body does not decrypt") from None


class NonceCache:
    """Nonces seen within the skew window, bounded in memory (oldest forgotten first; a forgotten
    nonce is older than the window only if the cache is sized for the traffic: size it so)."""

    def __init__(self, max_entries: int = MAX_NONCES, window_s: float = 2 * MAX_SKEW_S) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries, self.window_s = max_entries, window_s

    def add(self, nonce: str, now: float) -> bool:
        """Remember `nonce`; False if it was already seen."""
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if now - at <= self.window_s and len(self._seen) < self.max_entries:
                    break
                del self._seen[oldest]
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


@dataclass(frozen=True)
class SecureOrigin:
    """A host the app's own backend answers on, as the host configures it (HostConfig.secure_channels)."""

    key: ChannelKey
    encrypt: bool = False

    @property
    def signer(self) -> Signer:
        return _signer_for(self.key)


_SIGNERS: dict[ChannelKey, Signer] = {}
_SIGNERS_LOCK = threading.Lock()


def _signer_for(key: ChannelKey) -> Signer:
    """One signer (and so one response-nonce cache) per key in this process."""
    with _SIGNERS_LOCK:
        signer = _SIGNERS.get(key)
        if signer is None:
            signer = _SIGNERS[key] = Signer(key)
        return signer


@dataclass
class SignedRequest:
    headers: dict[str, str]
    body: bytes


@dataclass
class VerifiedRequest:
    app_id: str
    nonce: str
    body: bytes  # decrypted when it was sealed
    encrypted: bool


class Signer:
    """The host side: signs requests and verifies the backend's responses."""

    def __init__(self, key: ChannelKey, *, clock: Callable[[], float] = time.time,
                 max_skew_s: int = MAX_SKEW_S) -> None:
        self.key, self.clock, self.max_skew_s = key, clock, max_skew_s
        self.nonces = NonceCache(window_s=2 * max_skew_s)

    def sign_request(self, method: str, url: str, body: bytes, *, encrypt: bool = False) -> SignedRequest:
        ts, nonce = str(int(self.clock())), os.urandom(16).hex()
        enc = ENC_ALG if encrypt else ""
        if encrypt:
            aad = "\n".join([VERSION, method.upper(), *_target(url), self.key.app_id, ts, nonce]).encode()
            body = _seal(self.key, body, aad)
        sig = _mac(self.key, _request_text(method, url, self.key.app_id, ts, nonce, enc, body))
        headers = {H_APP: self.key.app_id, H_TS: ts, H_NONCE: nonce, H_SIG: sig}
        if enc:
            headers[H_ENC] = enc
        return SignedRequest(headers, body)

    def verify_response(self, request: SignedRequest, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        """The response body (decrypted) if the backend signed it for this request; else ChannelError."""
        h = _lower(headers)
        ts, nonce, sig = _need(h, H_TS), _need(h, H_NONCE), _need(h, H_SIG)
        enc = h.get(H_ENC.lower(), "")
        _check_time(ts, self.clock(), self.max_skew_s)
        expected = _mac(self.key, _response_text(status, request.headers[H_NONCE], ts, nonce, enc, body))
        if not hmac.compare_digest(expected, sig):
            raise TamperError("response signature does not match")
        if not self.nonces.add(nonce, self.clock()):
            raise ReplayError("response nonce seen before")
        if enc == ENC_ALG:
            return _open(self.key, body, f"{VERSION}-resp\n{status}\n{request.headers[H_NONCE]}\n{ts}\n{nonce}".encode())
        if enc:
            raise MalformedError(f"unknown encryption {enc!r}")
        return body


class Verifier:
    """The backend side: verify the host's requests, sign the responses. Give it the keys of the
    apps it serves (`keys`: app id -> ChannelKey) and, across several backend replicas, a shared
    `nonces` cache (anything with `add(nonce, now) -> bool`, e.g. backed by Redis SET NX EX)."""

    def __init__(self, keys: Mapping[str, ChannelKey], *, clock: Callable[[], float] = time.time,
                 max_skew_s: int = MAX_SKEW_S, nonces: NonceCache | None = None) -> None:
        self.keys, self.clock, self.max_skew_s = dict(keys), clock, max_skew_s
        self.nonces = nonces or NonceCache(window_s=2 * max_skew_s)

    def verify_request(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> VerifiedRequest:
        h = _lower(headers)
        app, ts, nonce, sig = _need(h, H_APP), _need(h, H_TS), _need(h, H_NONCE), _need(h, H_SIG)
        enc = h.get(H_ENC.lower(), "")
        key = self.keys.get(app)
        if key is None:
            raise TamperError(f"unknown app {app!r}")
        if len(nonce) != 32 or any(c not in "0123456789abcdef" for c in nonce):
            raise MalformedError("nonce must be 32 lowercase hex characters")
        expected = _mac(key, _request_text(method, url, app, ts, nonce, enc, body))
        if not hmac.compare_digest(expected, sig):
            raise TamperError("request signature does not match")
        now = self.clock()
        _check_time(ts, now, self.max_skew_s)
        if not self.nonces.add(f"{app}:{nonce}", now):
            raise ReplayError("request nonce seen before")
        if enc == ENC_ALG:
            aad = "\n".join([VERSION, method.upper(), *_target(url), app, ts, nonce]).encode()
            return VerifiedRequest(app, nonce, _open(key, body, aad), True)
        if enc:
            raise MalformedError(f"unknown encryption {enc!r}")
        return VerifiedRequest(app, nonce, body, False)

    def sign_response(self, request: VerifiedRequest, status: int, body: bytes) -> tuple[dict[str, str], bytes]:
        """Headers and body to send back; the body is sealed when the request was."""
        key = self.keys[request.app_id]
        ts, nonce = str(int(self.clock())), os.urandom(16).hex()
        enc = ENC_ALG if request.encrypted else ""
        if request.encrypted:
            body = _seal(key, body, f"{VERSION}-resp\n{status}\n{request.nonce}\n{ts}\n{nonce}".encode())
        sig = _mac(key, _response_text(status, request.nonce, ts, nonce, enc, body))
        headers = {H_TS: ts, H_NONCE: nonce, H_SIG: sig}
        if enc:
            headers[H_ENC] = enc
        return headers, body


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _need(h: dict[str, str], name: str) -> str:
    v = h.get(name.lower())
    if not v or len(v) > 256 or not v.isascii():
        raise MalformedError(f"missing or bad {name} header")
    return v


def _check_time(ts: str, now: float, max_skew_s: int) -> None:
    if not ts.isdigit() or len(ts) > 12:
        raise MalformedError("timestamp must be Unix seconds")
    if abs(int(ts) - now) > max_skew_s:
        raise ClockSkewError(f"timestamp {ts} is more than {max_skew_s} s from now")
