"""Signals -> score -> decision, with the reasons that made it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .history import RiskHistory
from .rules import DEFAULT_RULES, Rule, RuleSet

ALLOW, STEP_UP, REFUSE = "allow", "step_up", "refuse"


@dataclass(frozen=True)
class Signals:
    """What the engine knows about one payment attempt (the device only as its fingerprint)."""

    app_id: str
    user_id: str
    device: str
    amount_fen: int
    at: float


@dataclass
class Decision:
    outcome: str  # allow | step_up | refuse
    score: int
    reasons: list[dict[str, Any]] = field(default_factory=list)
    attempt_id: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "score": self.score, "reasons": self.reasons}


class RiskEngine:
    def __init__(self, history: RiskHistory, rules: RuleSet = DEFAULT_RULES,
                 clock: Callable[[], float] = time.time) -> None:
        self.history, self.rules, self.clock = history, rules, clock

    def assess(self, app_id: str, user_id: str, device: str, amount_fen: int, prepay_id: str) -> Decision:
        """Score the attempt, record it (so it counts for the next one) and decide."""
        s = Signals(app_id, user_id, device, amount_fen, self.clock())
        reasons = []
        for rule in self.rules.rules:
            hit = self._evaluate(rule, s)
            if hit is not None:
                reasons.append({"rule": rule.id, "score": rule.score, "detail": hit})
        score = sum(r["score"] for r in reasons)
        outcome = REFUSE if score >= self.rules.refuse_at else STEP_UP if score >= self.rules.step_up_at else ALLOW
        decision = Decision(outcome, score, reasons)
        decision.attempt_id = self.history.record(s.at, app_id, user_id, device, amount_fen, prepay_id, outcome)
        return decision

    def _evaluate(self, rule: Rule, s: Signals) -> str | None:
        h = self.history
        if rule.signal == "user_payments":
            n = h.count_user(s.user_id, s.at - rule.window_s)
            return f"{n} earlier attempts by this user in {rule.window_s} s" if n >= rule.over else None
        if rule.signal == "device_payments":
            n = h.count_device(s.device, s.at - rule.window_s)
            return f"{n} earlier attempts from this device in {rule.window_s} s" if n >= rule.over else None
        if rule.signal == "amount":
            return f"amount {s.amount_fen} fen over {rule.over:g}" if s.amount_fen > rule.over else None
        if rule.signal == "amount_ratio":
            paid = h.paid_amounts(s.user_id)
            if len(paid) < rule.min_history or not paid:
                return None
            ratio = s.amount_fen / max(paid)
            return f"amount is {ratio:.1f}x the user's largest payment" if ratio > rule.over else None
        if rule.signal == "new_device":
            return None if h.known_device(s.user_id, s.device) else "first payment of this user from this device"
        if rule.signal == "hour":
            hour = datetime.fromtimestamp(s.at, ZoneInfo(self.rules.timezone)).hour
            lo, hi = rule.between
            inside = lo <= hour < hi if lo <= hi else (hour >= lo or hour < hi)
            return f"local hour {hour} in [{lo}, {hi})" if inside else None
        if rule.signal == "app_first_payment":
            return None if h.app_has_paid(s.app_id) else "the mini-program's first payment on this host"
        return None
