"""Watermark templates: one rule for the platform (validation) and the host (rendering).

A template is plain text with placeholders `{user}` `{app}` `{host}` `{date}` `{time}`, e.g.
`"{user} · {app} · {date}"`. Rendering replaces exactly those names and nothing else (never
`str.format`: a template cannot reach attributes or indexes of the values).

Two templates may apply to one instance: the app's (the platform's allowlist, delivered signed with
each release) and the host's own (`HostConfig.watermark`, `minibox dev --watermark`). Both are drawn:
neither the host nor the platform can remove the other's (identical texts are drawn once).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

PLACEHOLDERS = ("user", "app", "host", "date", "time")
#: Longest template the platform accepts, and longest text the host draws.
MAX_TEMPLATE = 120
MAX_TEXT = 200
_FIELD = re.compile(r"\{([^{}]*)\}")
SEPARATOR = " · "


class WatermarkError(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def validate_template(template: str) -> str:
    """The template as stored (stripped), or `WatermarkError(rule, why)`; "" means no watermark."""
    if not isinstance(template, str):
        raise WatermarkError("shape", "a string")
    text = template.strip()
    if len(text) > MAX_TEMPLATE:
        raise WatermarkError("too_long", f"at most {MAX_TEMPLATE} characters")
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise WatermarkError("plain_text", f"plain text only: character U+{ord(ch):04X} is not allowed")
    if "<" in text or ">" in text:
        raise WatermarkError("plain_text", "plain text only: no '<' or '>'")
    for name in _FIELD.findall(text):
        if name not in PLACEHOLDERS:
            raise WatermarkError("placeholder", f"unknown placeholder {{{name}}}; allowed: "
                                 + " ".join(f"{{{p}}}" for p in PLACEHOLDERS))
    if _FIELD.sub("", text).count("{") or _FIELD.sub("", text).count("}"):
        raise WatermarkError("placeholder", "unbalanced '{' or '}'")
    return text


def render(template: str | None, *, user: str, app: str, host: str, now: datetime | None = None) -> str:
    """The text to draw ("" for no template); unknown placeholders are left as written."""
    if not template:
        return ""
    now = now or datetime.now()
    values = {"user": user, "app": app, "host": host, "date": now.strftime("%Y-%m-%d"),
              "time": now.strftime("%H:%M")}
    text = _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    return text[:MAX_TEXT]


def combined(app_template: str | None, host_template: str | None, *, user: str, app: str, host: str,
             now: datetime | None = None) -> str:
    """What the host draws over the app's pages: the app's watermark and the host's, both."""
    now = now or datetime.now()
    texts = [render(t, user=user, app=app, host=host, now=now) for t in (app_template, host_template)]
    texts = [t for i, t in enumerate(texts) if t and t not in texts[:i]]
    return SEPARATOR.join(texts)[:MAX_TEXT]
