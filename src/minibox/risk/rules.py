"""The operator's risk rules: JSON, validated as a whole, each rule naming the signal it reads.

```json
{"step_up_at": 50, "refuse_at": 90, "timezone": "Asia/Shanghai",
 "rules": [{"id": "velocity.user.10m", "signal": "user_payments", "window_s": 600, "over": 3, "score": 30}]}
```
Signals: `user_payments` / `device_payments` (attempts within `window_s`, scored when more than
`over`), `amount` (fen, over `over`), `amount_ratio` (this amount / the user's largest paid amount,
over `over`, once the user has `min_history` payments), `new_device` (first payment of this user from
this device), `hour` (local hour in `between: [from, to)`), `app_first_payment` (the mini-program's
first payment on this host).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SIGNALS = frozenset({"user_payments", "device_payments", "amount", "amount_ratio", "new_device", "hour",
                     "app_first_payment"})
MAX_RULES = 100


class RuleError(ValueError):
    """The rule set is invalid; the message names the rule and field."""


@dataclass(frozen=True)
class Rule:
    id: str
    signal: str
    score: int
    over: float = 0.0
    window_s: int = 0
    min_history: int = 0
    between: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    step_up_at: int = 50
    refuse_at: int = 90
    timezone: str = "Asia/Shanghai"
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> RuleSet:
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RuleError(f"rule set is not JSON: {exc}") from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> RuleSet:
        if not isinstance(doc, dict):
            raise RuleError("rule set must be an object")
        step_up, refuse = doc.get("step_up_at", 50), doc.get("refuse_at", 90)
        if not (_int(step_up) and _int(refuse) and 0 < step_up <= refuse):
            raise RuleError("step_up_at and refuse_at must be whole numbers with 0 < step_up_at <= refuse_at")
        tz = doc.get("timezone", "Asia/Shanghai")
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise RuleError(f"timezone: unknown zone {tz!r}") from None
        raw = doc.get("rules")
        if not isinstance(raw, list) or len(raw) > MAX_RULES:
            raise RuleError(f"rules must be a list of at most {MAX_RULES} rules")
        rules, seen = [], set()
        for i, r in enumerate(raw):
            rules.append(_rule(i, r, seen))
        return cls(tuple(rules), step_up, refuse, str(tz), doc)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _rule(i: int, r: Any, seen: set[str]) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(r, dict):
        raise RuleError(f"{where}: must be an object")
    rid = r.get("id")
    if not isinstance(rid, str) or not rid or len(rid) > 64 or rid in seen:
        raise RuleError(f"{where}.id: a unique name of at most 64 characters")
    seen.add(rid)
    where = f"rule {rid!r}"
    signal = r.get("signal")
    if signal not in SIGNALS:
        raise RuleError(f"{where}.signal: one of {sorted(SIGNALS)}, not {signal!r}")
    score = r.get("score")
    if not _int(score) or not -1000 <= score <= 1000:
        raise RuleError(f"{where}.score: a whole number between -1000 and 1000")
    over = r.get("over", 0)
    if not isinstance(over, int | float) or isinstance(over, bool) or over < 0:
        raise RuleError(f"{where}.over: a number >= 0")
    window = r.get("window_s", 0)
    if signal in ("user_payments", "device_payments") and (not _int(window) or not 0 < window <= 31 * 86400):
        raise RuleError(f"{where}.window_s: seconds between 1 and 31 days")
    min_history = r.get("min_history", 0)
    if not _int(min_history) or min_history < 0:
        raise RuleError(f"{where}.min_history: a whole number >= 0")
    between = r.get("between", [0, 0])
    if signal == "hour" and (not isinstance(between, list) or len(between) != 2
                             or not all(_int(h) and 0 <= h <= 24 for h in between)):
        raise RuleError(f"{where}.between: [from, to) hours between 0 and 24")
    return Rule(rid, signal, score, float(over), int(window or 0), int(min_history),
                (int(between[0]), int(between[1])) if isinstance(between, list) and len(between) == 2 else (0, 0))


DEFAULT_RULES = RuleSet.from_dict({
    "step_up_at": 50, "refuse_at": 90, "timezone": "Asia/Shanghai",
    "rules": [
        {"id": "velocity.user.10m", "signal": "user_payments", "window_s": 600, "over": 3, "score": 40},
        {"id": "velocity.device.1h", "signal": "device_payments", "window_s": 3600, "over": 10, "score": 40},
        {"id": "amount.large", "signal": "amount", "over": 5_000_000, "score": 30},
        {"id": "amount.vs_history", "signal": "amount_ratio", "over": 5, "min_history": 3, "score": 40},
        {"id": "device.new", "signal": "new_device", "score": 15},
        {"id": "time.night", "signal": "hour", "between": [1, 5], "score": 10},
        {"id": "app.first_payment", "signal": "app_first_payment", "score": 10},
    ],
})
