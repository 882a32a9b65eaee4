"""`wx.requestPayment` on WeChat Pay's model: the client only ever holds a server-issued prepay
token and the merchant server's signature; the amount comes from the order, never from the
mini-program; the confirmation is drawn by the host; one payment per order.

The merchant server (the bank's order service) creates orders with `PaymentService.create_order`
and signs the pay parameters with its RSA key (`sign_pay_params`): RSA-SHA256 over
`appId\\ntimeStamp\\nnonceStr\\npackage\\n`, as WeChat Pay v3. The host verifies, in this order:
signType -> package form -> signature by the app's registered merchant key -> timestamp window ->
nonce not seen -> order exists, belongs to this app and user, is unpaid and unexpired -> the risk
decision (minibox.risk: allow, step-up or refuse, from the device fingerprint, behaviour and the
operator's rules) -> a step-up challenge when asked (TOTP or the host's own) -> the host's
confirmation (showing the order's amount) -> compare-and-set to paid. Each step is a payment event
(`dispute_record(prepay_id)`) and the risk decision is in the audit log with its reasons.

errMsg: `requestPayment:fail cancel` is WeChat's; the others are ours, in WeChat's shape
(`requestPayment:fail risk control refused`, `requestPayment:fail verification failed`).
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from minibox.apis.pending import Pending
from minibox.apis.registry import ApiError, ApiRegistry, ApiSpec, Arg, CallContext
from minibox.risk import Decision, RiskEngine

#: The pay parameters' timestamp must be within this many seconds of the host's clock.
TIMESTAMP_WINDOW = 300
#: Orders expire after this long unless the merchant says otherwise (WeChat Pay: 2 hours).
DEFAULT_ORDER_TTL = 2 * 3600
#: Largest single payment in fen (分) the host accepts: 1,000,000 yuan.
MAX_AMOUNT_FEN = 100_000_000

API = "requestPayment"


class PaymentError(Exception):
    """A merchant-side mistake creating an order (bad amount, unknown app)."""


@dataclass(frozen=True)
class Order:
    prepay_id: str
    app_id: str
    user_id: str
    amount_fen: int
    description: str
    status: str
    expires_at: float


@dataclass
class PaymentRequest:
    """A payment waiting for the user's confirmation in the host-drawn dialog."""

    order: Order
    future: Future = field(default_factory=Future)

    def confirm(self) -> None:
        self.future.set_result(True)

    def cancel(self) -> None:
        self.future.set_result(False)


@dataclass
class StepUpRequest:
    """A second factor the host must obtain before the confirmation (the risk engine asked for it).
    The host draws the challenge and calls `answer(code)` (TOTP, when `totp_secret` is set) or
    `passed()` / `failed()` for a challenge of its own."""

    order: Order
    decision: Decision
    totp_secret: str | None = None
    future: Future = field(default_factory=Future)

    @property
    def method(self) -> str:
        return "totp" if self.totp_secret else "host"

    def answer(self, code: str) -> bool:
        import pyotp

        ok = bool(self.totp_secret) and pyotp.TOTP(self.totp_secret).verify(str(code), valid_window=1)
        if not self.future.done():
            self.future.set_result(ok)
        return ok

    def passed(self) -> None:
        if not self.future.done():
            self.future.set_result(True)

    def failed(self) -> None:
        if not self.future.done():
            self.future.set_result(False)


def sign_pay_params(key: rsa.RSAPrivateKey, app_id: str, time_stamp: str, nonce: str, package: str) -> str:
    """What the merchant server does: the paySign over WeChat Pay's four lines."""
    message = f"{app_id}\n{time_stamp}\n{nonce}\n{package}\n".encode()
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


class PaymentService:
    """Orders in SQLite; merchant public keys per app; the host's confirmation callback."""

    def __init__(self, db_path: Path | str, *, confirm: Callable[[PaymentRequest], None] | None = None,
                 clock: Callable[[], float] = time.time, risk: RiskEngine | None = None, device: str = "",
                 step_up: Callable[[StepUpRequest], None] | None = None,
                 totp_secrets: Callable[[str], str | None] | None = None) -> None:
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS orders (prepay_id TEXT PRIMARY KEY, app_id TEXT NOT NULL, "
            "user_id TEXT NOT NULL, amount_fen INTEGER NOT NULL CHECK (amount_fen > 0), "
            "description TEXT NOT NULL, status TEXT NOT NULL, expires_at REAL NOT NULL, paid_at REAL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS nonces (app_id TEXT, nonce TEXT, seen_at REAL, "
                         "PRIMARY KEY (app_id, nonce))")
        self._db.execute("CREATE TABLE IF NOT EXISTS payment_events (id INTEGER PRIMARY KEY, prepay_id TEXT NOT NULL,"
                         " at REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS payment_events_order ON payment_events (prepay_id, id)")
        #: the risk engine (None: no risk control), this device's fingerprint, the host's step-up
        #: challenge and, for TOTP step-up, the user's TOTP secret
        self.risk, self.device, self.step_up, self.totp_secrets = risk, device, step_up, totp_secrets
        self.step_ups: list[StepUpRequest] = []
        #: told of every payment step: (prepay_id, app_id, user_id, step, data) (the host's telemetry)
        self.observers: list[Callable[[str, str, str, str, dict[str, Any]], None]] = []
        self._lock = threading.Lock()
        self.merchant_keys: dict[str, rsa.RSAPublicKey] = {}
        self.confirm = confirm
        self.clock = clock
        self.pending: list[PaymentRequest] = []

    def close(self) -> None:
        self._db.close()

    def register_merchant(self, app_id: str, public_key: rsa.RSAPublicKey) -> None:
        self.merchant_keys[app_id] = public_key

    def create_order(self, app_id: str, user_id: str, amount_fen: Any, description: str,
                     ttl: float = DEFAULT_ORDER_TTL) -> Order:
        """The merchant server's side: amounts are whole fen, positive, at most MAX_AMOUNT_FEN."""
        if type(amount_fen) is not int or not 0 < amount_fen <= MAX_AMOUNT_FEN:
            raise PaymentError(f"amount must be whole fen between 1 and {MAX_AMOUNT_FEN}, got {amount_fen!r}")
        if app_id not in self.merchant_keys:
            raise PaymentError(f"app {app_id} has no registered merchant key")
        order = Order("wx" + secrets.token_hex(14), app_id, user_id, amount_fen, description, "created",
                      self.clock() + ttl)
        with self._lock:
            self._db.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                             (order.prepay_id, app_id, user_id, amount_fen, description, order.status,
                              order.expires_at))
        return order

    def order(self, prepay_id: str) -> Order | None:
        row = self._db.execute("SELECT prepay_id, app_id, user_id, amount_fen, description, status, "
                               "expires_at FROM orders WHERE prepay_id = ?", (prepay_id,)).fetchone()
        return Order(*row) if row else None

    def _check(self, ctx: CallContext, args: dict[str, Any]) -> Order:
        if args.get("signType", "RSA") != "RSA":
            raise ApiError(f"{API}:fail signType must be RSA")
        package = args["package"]
        if not package.startswith("prepay_id=") or len(package) > 128:
            raise ApiError(f"{API}:fail invalid package")
        key = self.merchant_keys.get(ctx.app_id)
        if key is None:
            raise ApiError(f"{API}:fail payment is not enabled for this mini-program")
        message = f"{ctx.app_id}\n{args['timeStamp']}\n{args['nonceStr']}\n{package}\n".encode()
        try:
            key.verify(base64.b64decode(args["paySign"], validate=True), message, padding.PKCS1v15(),
                       hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise ApiError(f"{API}:fail invalid paySign") from None
        try:
            stamp = int(args["timeStamp"])
        except ValueError:
            raise ApiError(f"{API}:fail invalid timeStamp") from None
        now = self.clock()
        if abs(now - stamp) > TIMESTAMP_WINDOW:
            raise ApiError(f"{API}:fail timeStamp expired")
        with self._lock:
            self._db.execute("DELETE FROM nonces WHERE seen_at < ?", (now - 2 * TIMESTAMP_WINDOW,))
            try:
                self._db.execute("INSERT INTO nonces VALUES (?, ?, ?)", (ctx.app_id, args["nonceStr"], now))
            except sqlite3.IntegrityError:
                raise ApiError(f"{API}:fail nonceStr already used") from None
        order = self.order(package[len("prepay_id="):])
        if order is None or order.app_id != ctx.app_id or order.user_id != ctx.user_id:
            raise ApiError(f"{API}:fail order not found")
        if order.status != "created":
            raise ApiError(f"{API}:fail order already {order.status}")
        if order.expires_at < now:
            raise ApiError(f"{API}:fail order expired")
        return order

    def event(self, prepay_id: str, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT INTO payment_events (prepay_id, at, kind, data) VALUES (?, ?, ?, ?)",
                             (prepay_id, self.clock(), kind, json.dumps(data, sort_keys=True)))
        order = self.order(prepay_id) if self.observers else None
        for observe in self.observers if order is not None else []:
            try:
                observe(prepay_id, order.app_id, order.user_id, kind, {**data, "amount_fen": order.amount_fen})
            except Exception:  # a record that cannot be sent never stops a payment
                continue

    def dispute_record(self, prepay_id: str) -> dict[str, Any] | None:
        """Everything about one payment, for a dispute: the order, its risk decision, the step-up and
        the user's confirmation, in order, with times."""
        row = self._db.execute("SELECT prepay_id, app_id, user_id, amount_fen, description, status, expires_at,"
                               " paid_at FROM orders WHERE prepay_id = ?", (prepay_id,)).fetchone()
        if row is None:
            return None
        keys = ("prepay_id", "app_id", "user_id", "amount_fen", "description", "status", "expires_at", "paid_at")
        events = [{"at": at, "kind": kind, **json.loads(data)} for at, kind, data in self._db.execute(
            "SELECT at, kind, data FROM payment_events WHERE prepay_id = ? ORDER BY id", (prepay_id,))]
        return {"order": dict(zip(keys, row, strict=True)), "events": events}

    def _settle(self, order: Order, confirmed: bool, attempt: int = 0) -> dict[str, Any]:
        self.event(order.prepay_id, "confirmation", {"confirmed": confirmed})
        if not confirmed:
            self._risk_outcome(attempt, "cancelled")
            raise ApiError(f"{API}:fail cancel")
        with self._lock:
            cur = self._db.execute("UPDATE orders SET status = 'paid', paid_at = ? "
                                   "WHERE prepay_id = ? AND status = 'created'", (self.clock(), order.prepay_id))
        if cur.rowcount != 1:
            self.event(order.prepay_id, "settled", {"paid": False, "why": "order already paid"})
            raise ApiError(f"{API}:fail order already paid")
        self.event(order.prepay_id, "settled", {"paid": True})
        self._risk_outcome(attempt, "paid")
        return {}

    def _risk_outcome(self, attempt: int, outcome: str) -> None:
        if self.risk is not None and attempt:
            self.risk.history.settle(attempt, outcome)

    def _assess(self, ctx: CallContext, order: Order) -> Decision | None:
        if self.risk is None:
            return None
        decision = self.risk.assess(ctx.app_id, ctx.user_id, self.device, order.amount_fen, order.prepay_id)
        self.event(order.prepay_id, "risk", {**decision.as_dict(), "device": self.device})
        audit = ctx.services.audit
        if audit is not None:
            audit.record("payment.risk", host=ctx.host_id, app=ctx.app_id, user=ctx.user_id,
                         order=order.prepay_id, amount_fen=order.amount_fen, **decision.as_dict())
        return decision

    def request_payment(self, ctx: CallContext, args: dict[str, Any]) -> Pending:
        order = self._check(ctx, args)
        decision = self._assess(ctx, order)
        attempt = decision.attempt_id if decision is not None else 0
        if decision is not None and decision.outcome == "refuse":
            self._risk_outcome(attempt, "refused")
            raise ApiError(f"{API}:fail risk control refused")
        request = PaymentRequest(order)
        result: Future = Future()

        def decided(f: Future) -> None:
            try:
                result.set_result(self._settle(order, bool(f.result()), attempt))
            except ApiError as exc:
                result.set_exception(exc)

        def confirm() -> None:
            request.future.add_done_callback(decided)
            self.pending.append(request)
            if self.confirm is not None:
                self.confirm(request)

        if decision is None or decision.outcome == "allow":
            confirm()
            return Pending(result, on_cancel=request.cancel, waits_for_user=True)

        secret = self.totp_secrets(ctx.user_id) if self.totp_secrets is not None else None
        challenge = StepUpRequest(order, decision, secret)
        if self.step_up is None and not secret:
            self.event(order.prepay_id, "step_up", {"method": "none", "passed": False})
            self._risk_outcome(attempt, "refused")
            raise ApiError(f"{API}:fail risk control refused")  # no second factor available: fail closed

        def stepped(f: Future) -> None:
            passed = bool(f.result())
            self.event(order.prepay_id, "step_up", {"method": challenge.method, "passed": passed})
            if passed:
                confirm()
            else:
                self._risk_outcome(attempt, "step_up_failed")
                result.set_exception(ApiError(f"{API}:fail verification failed"))

        challenge.future.add_done_callback(stepped)
        self.step_ups.append(challenge)
        if self.step_up is not None:
            self.step_up(challenge)

        def cancel() -> None:
            challenge.failed()
            if not request.future.done():
                request.cancel()

        return Pending(result, on_cancel=cancel, waits_for_user=True)


def _service(ctx: CallContext) -> PaymentService:
    svc = ctx.services.extra.get("payment")
    if svc is None:
        raise ApiError(f"{API}:fail payment is not enabled for this host")
    return svc


def request_payment(ctx: CallContext, args: dict[str, Any]) -> Pending:
    return _service(ctx).request_payment(ctx, args)


def register(registry: ApiRegistry) -> None:
    s = (str,)
    registry.register(ApiSpec(API, request_payment, {
        "timeStamp": Arg(s, True), "nonceStr": Arg(s, True), "package": Arg(s, True),
        "signType": Arg(s), "paySign": Arg(s, True),
    }))
