"""Deletion orders: an admin orders a user's data deleted (one app or all); every host of the
organisation learns of it at its next check (a signed answer), deletes, and acknowledges with
counts. The audit log records the order and each acknowledgement, never the deleted data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from minibox.package.answer import DELETIONS_CONTEXT, sign_answer
from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx, Platform
from minibox.platform.errors import InvalidInput, NotFound
from minibox.platform.hosts.models import Host
from minibox.platform.privacy.models import DeletionAck, DeletionOrder

#: Most pending orders one answer carries (older ones first; the rest come at the next check).
MAX_ORDERS_PER_ANSWER = 100


def order_deletion(ctx: Ctx, user_id: str, app_id: str | None, reason: str) -> DeletionOrder:
    assert ctx.actor is not None
    if app_id is not None:
        apps.get_app(ctx, app_id)  # the app must be the organisation's
    if not user_id:
        raise InvalidInput("user_id is required", code="invalid_user")
    row = DeletionOrder(org_id=ctx.actor.org_id, user_id=user_id, app_id=app_id, reason=reason,
                        created_by=ctx.actor.user_id)
    ctx.s.add(row)
    ctx.s.flush()
    ctx.audit("deletion.order", f"deletion:{row.id}", {"app_id": app_id, "reason": reason})
    return row


def list_orders(ctx: Ctx) -> list[dict[str, Any]]:
    assert ctx.actor is not None
    orders = list(ctx.s.execute(select(DeletionOrder).where(DeletionOrder.org_id == ctx.actor.org_id)
                                .order_by(DeletionOrder.id.desc()).limit(500)).scalars())
    n_hosts = len(list(ctx.s.execute(select(Host.id).where(Host.org_id == ctx.actor.org_id,
                                                           Host.revoked_at.is_(None)))))
    acks: dict[int, list[dict[str, Any]]] = {}
    if orders:
        q = (select(DeletionAck, Host.host_id).join(Host, Host.id == DeletionAck.host_pk)
             .where(DeletionAck.order_id.in_([o.id for o in orders])))
        for ack, host_id in ctx.s.execute(q):
            acks.setdefault(ack.order_id, []).append({"host_id": host_id, "acked_at": ack.acked_at.isoformat(),
                                                      "counts": ack.counts})
    return [{"id": o.id, "user_id": o.user_id, "app_id": o.app_id, "reason": o.reason,
             "created_at": o.created_at.isoformat(), "acks": acks.get(o.id, []),
             "hosts_pending": max(0, n_hosts - len(acks.get(o.id, [])))} for o in orders]


def pending_for(platform: Platform, s: Any, host: Host, user_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The signed answer a host gets: the orders for this user it has not acknowledged yet."""
    done = select(DeletionAck.order_id).where(DeletionAck.host_pk == host.id)
    rows = s.execute(select(DeletionOrder).where(DeletionOrder.org_id == host.org_id,
                                                 DeletionOrder.user_id == user_id,
                                                 DeletionOrder.id.not_in(done))
                     .order_by(DeletionOrder.id).limit(MAX_ORDERS_PER_ANSWER)).scalars()
    body = {"kind": "deletions", "host_id": host.host_id, "user_id": user_id,
            "orders": [{"id": o.id, "app_id": o.app_id} for o in rows]}
    return sign_answer(platform.package_signer, body, now or datetime.now(UTC), context=DELETIONS_CONTEXT)


def acknowledge(ctx: Ctx, host: Host, order_id: int, counts: dict[str, Any],
                telemetry_users: dict[str, str] | None = None) -> None:
    """Record that `host` carried out an order; the telemetry it names (the host's pseudonym of the
    user per app: the platform cannot find it otherwise) is deleted too."""
    from minibox.platform.apps.models import App
    from minibox.platform.telemetry.service import forget_user

    order = ctx.s.get(DeletionOrder, order_id)
    if order is None or order.org_id != host.org_id:
        raise NotFound("no such deletion order", code="no_order")
    if ctx.s.get(DeletionAck, (order_id, host.id)) is not None:
        return  # acknowledged already: idempotent
    clean = {k: v for k, v in counts.items() if isinstance(k, str) and isinstance(v, int | bool)}
    events = 0
    for app_id, pseudonym in (telemetry_users or {}).items():
        if order.app_id is not None and app_id != order.app_id:
            continue  # only what the order covers
        app = ctx.s.execute(select(App).where(App.org_id == host.org_id, App.app_id == app_id)).scalar()
        if app is not None:
            events += forget_user(ctx.s, app.id, pseudonym)
    clean["telemetry_events"] = events
    ctx.s.add(DeletionAck(order_id=order_id, host_pk=host.id, counts=clean))
    ctx.audit("deletion.ack", f"deletion:{order_id}", {"host_id": host.host_id, **clean},
              org_id=host.org_id, actor=f"host:{host.host_id}")
