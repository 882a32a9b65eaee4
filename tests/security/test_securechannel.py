"""The secure request channel: signed (and sealed) requests a backend verifies, signed responses
the host verifies; tampering, replay, clock skew and foreign keys are refused with typed errors."""

from __future__ import annotations

import pytest

from minibox.securechannel import (
    H_ENC,
    H_NONCE,
    H_SIG,
    H_TS,
    ChannelKey,
    ClockSkewError,
    MalformedError,
    ReplayError,
    Signer,
    TamperError,
    Verifier,
)

MASTER = b"m" * 32
URL = "https://bank.example/api/transfer?from=1"


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def parties() -> tuple[Signer, Verifier, Clock]:
    clock = Clock()
    key = ChannelKey.derive(MASTER, "wxbank")
    return Signer(key, clock=clock), Verifier({"wxbank": ChannelKey.derive(MASTER, "wxbank")}, clock=clock), clock


@pytest.mark.parametrize("encrypt", [False, True])
def test_round_trip(parties: tuple[Signer, Verifier, Clock], encrypt: bool) -> None:
    signer, verifier, _ = parties
    req = signer.sign_request("POST", URL, b'{"amount": 100}', encrypt=encrypt)
    assert (req.body == b'{"amount": 100}') is not encrypt
    got = verifier.verify_request("POST", URL, req.headers, req.body)
    assert got.body == b'{"amount": 100}' and got.app_id == "wxbank" and got.encrypted is encrypt
    headers, body = verifier.sign_response(got, 200, b'{"ok": true}')
    assert (H_ENC in headers) is encrypt
    assert signer.verify_response(req, 200, headers, body) == b'{"ok": true}'


@pytest.mark.parametrize("change", ["body", "path", "query", "method", "host", "ts", "app", "sig"])
def test_any_change_to_a_request_is_tampering(parties: tuple[Signer, Verifier, Clock], change: str) -> None:
    signer, verifier, _ = parties
    req = signer.sign_request("POST", URL, b'{"amount": 100}')
    method, url, headers, body = "POST", URL, dict(req.headers), req.body
    if change == "body":
        body = b'{"amount": 900}'
    elif change == "path":
        url = URL.replace("/transfer", "/withdraw")
    elif change == "query":
        url = URL.replace("from=1", "from=2")
    elif change == "method":
        method = "PUT"
    elif change == "host":
        url = URL.replace("bank.example", "evil.example")
    elif change == "ts":
        headers[H_TS] = str(int(headers[H_TS]) + 1)
    elif change == "app":
        headers["X-Mb-App"] = "wxother"
    else:
        headers[H_SIG] = headers[H_SIG][:-2] + ("AA" if not headers[H_SIG].endswith("AA") else "BB")
    with pytest.raises(TamperError):
        verifier.verify_request(method, url, headers, body)


def test_sealed_body_cannot_be_altered_or_moved(parties: tuple[Signer, Verifier, Clock]) -> None:
    signer, verifier, _ = parties
    req = signer.sign_request("POST", URL, b"secret", encrypt=True)
    flipped = bytes([req.body[0] ^ 1]) + req.body[1:]
    with pytest.raises(TamperError):
        verifier.verify_request("POST", URL, req.headers, flipped)
    assert b"secret" not in req.body


def test_replay_is_refused(parties: tuple[Signer, Verifier, Clock]) -> None:
    signer, verifier, _ = parties
    req = signer.sign_request("GET", URL, b"")
    verifier.verify_request("GET", URL, req.headers, b"")
    with pytest.raises(ReplayError):
        verifier.verify_request("GET", URL, req.headers, b"")


def test_clock_skew_both_ways(parties: tuple[Signer, Verifier, Clock]) -> None:
    signer, verifier, clock = parties
    req = signer.sign_request("GET", URL, b"")
    clock.t += 301
    with pytest.raises(ClockSkewError):
        verifier.verify_request("GET", URL, req.headers, b"")
    clock.t -= 602
    with pytest.raises(ClockSkewError):
        verifier.verify_request("GET", URL, req.headers, b"")
    clock.t += 301 + 299  # within the window again: accepted once
    verifier.verify_request("GET", URL, req.headers, b"")


def test_a_key_for_another_app_or_master_is_refused(parties: tuple[Signer, Verifier, Clock]) -> None:
    _, verifier, clock = parties
    other = Signer(ChannelKey.derive(b"x" * 32, "wxbank"), clock=clock)
    req = other.sign_request("GET", URL, b"")
    with pytest.raises(TamperError):
        verifier.verify_request("GET", URL, req.headers, b"")
    stranger = Signer(ChannelKey.derive(MASTER, "wxstranger"), clock=clock)
    with pytest.raises(TamperError, match="unknown app"):
        verifier.verify_request("GET", URL, stranger.sign_request("GET", URL, b"").headers, b"")


def test_malformed_headers(parties: tuple[Signer, Verifier, Clock]) -> None:
    signer, verifier, _ = parties
    req = signer.sign_request("GET", URL, b"")
    for name, value in ((H_NONCE, ""), (H_TS, "soon"), (H_NONCE, "zz" * 16)):
        headers = {**req.headers, name: value}
        with pytest.raises((MalformedError, TamperError)):
            verifier.verify_request("GET", URL, headers, b"")
    with pytest.raises(ValueError):
        ChannelKey("wxbank", b"short")


def test_responses_are_bound_to_their_request(parties: tuple[Signer, Verifier, Clock]) -> None:
    signer, verifier, _ = parties
    a = signer.sign_request("GET", URL, b"a")
    b = signer.sign_request("GET", URL, b"b")
    ra = verifier.verify_request("GET", URL, a.headers, b"a")
    headers, body = verifier.sign_response(ra, 200, b"for a")
    with pytest.raises(TamperError):
        signer.verify_response(b, 200, headers, body)  # a's answer replayed for b
    with pytest.raises(TamperError):
        signer.verify_response(a, 500, headers, body)  # status changed
    with pytest.raises(TamperError):
        signer.verify_response(a, 200, headers, b"forged")
    assert signer.verify_response(a, 200, headers, body) == b"for a"
    with pytest.raises(ReplayError):
        signer.verify_response(a, 200, headers, body)
