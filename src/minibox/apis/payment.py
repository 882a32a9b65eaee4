"""`wx.requestPayment` on WeChat Pay's model: the client only ever holds a server-issued prepay
token and the merchant server's signature; the amount comes from the order, never from the
mini-program; the confirmation is drawn by the host; one payment per order.

The merchant server (the bank's order service) creates orders with `PaymentService.create_order`
and signs the pay parameters with its RSA key (`sign_pay_params`): RSA-SHA256 over
`appId\\ntimeStamp\\nnonceStr\\npackage\\n`, as WeChat Pay v3. The host verifies, in this order:
signType -> package form -> signature by the app's registered merchant key -> timestamp window ->
nonce not seen -> order exists, belongs to this app and user, is unpaid and unexpired -> the host's
confirmation (showing the order's amount) -> compare-and-set to paid.

errMsg: `requestPayment:fail cancel` is WeChat's; the others are ours, in WeChat's shape.
"""

from __future__ import annotations

import base64
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


def sign_pay_params(key: rsa.RSAPrivateKey, app_id: str, time_stamp: str, nonce: str, package: str) -> str:
    """What the merchant server does: the paySign over WeChat Pay's four lines."""
    message = f"{app_id}\n{time_stamp}\n{nonce}\n{package}\n".encode()
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


class PaymentService:
    """Orders in SQLite; merchant public keys per app; the host's confirmation callback."""

    def __init__(self, db_path: Path | str, *, confirm: Callable[[PaymentRequest], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS orders (prepay_id TEXT PRIMARY KEY, app_id TEXT NOT NULL, "
            "user_id TEXT NOT NULL, amount_fen INTEGER NOT NULL CHECK (amount_fen > 0), "
            "description TEXT NOT NULL, status TEXT NOT NULL, expires_at REAL NOT NULL, paid_at REAL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS nonces (app_id TEXT, nonce TEXT, seen_at REAL, "
                         "PRIMARY KEY (app_id, nonce))")
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

    def _settle(self, order: Order, confirmed: bool) -> dict[str, Any]:
        if not confirmed:
            raise ApiError(f"{API}:fail cancel")
        with self._lock:
            cur = self._db.execute("UPDATE orders SET status = 'paid', paid_at = ? "
                                   "WHERE prepay_id = ? AND status = 'created'", (self.clock(), order.prepay_id))
        if cur.rowcount != 1:
            raise ApiError(f"{API}:fail order already paid")
        return {}

    def request_payment(self, ctx: CallContext, args: dict[str, Any]) -> Pending:
        order = self._check(ctx, args)
        request = PaymentRequest(order)
        result: Future = Future()

        def decided(f: Future) -> None:
            try:
                result.set_result(self._settle(order, bool(f.result())))
            except ApiError as exc:
                result.set_exception(exc)

        request.future.add_done_callback(decided)
        self.pending.append(request)
        if self.confirm is not None:
            self.confirm(request)
        return Pending(result, on_cancel=request.cancel, waits_for_user=True)


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
