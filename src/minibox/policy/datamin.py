"""Data minimisation: the form in which a user's data reaches a third-party mini-program.

The platform's allowlist names the form each app gets (`dataForms`, signed with the release):
- `identity`: `pseudonym` (default; an id per app and user, like WeChat's openid: two apps cannot
  join their users) or `host` (the host's own user id, for the bank's own mini-programs);
- `phone`: `none` (default), `masked` (`138****5678`), `virtual` (a relay number, stable per app and
  user, that only the bank maps back to the real one) or `real`;
- `location`: `grid` (default; the centre of a 0.05 degree cell, about 5 km), `city` (the host's
  city resolver, else a 0.25 degree cell) or `precise`.
Host APIs hand user data through `Minimiser` so the same rule holds for the host's own APIs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IDENTITY_FORMS = ("pseudonym", "host")
PHONE_FORMS = ("none", "masked", "virtual", "real")
LOCATION_FORMS = ("grid", "city", "precise")
#: Cell sizes in degrees: `grid`, and `city` when the host has no city resolver.
GRID_DEG, CITY_DEG = 0.05, 0.25
#: Relay numbers: a prefix of the bank's relay range and how many digits follow it.
RELAY_PREFIX, RELAY_DIGITS = "170", 8
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")


class DataFormError(ValueError):
    """A `dataForms` value outside the allowed forms (the message names the key)."""


@dataclass(frozen=True)
class DataForms:
    identity: str = "pseudonym"
    phone: str = "none"
    location: str = "grid"

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> DataForms:
        raw = raw or {}
        unknown = sorted(set(raw) - {"identity", "phone", "location"})
        if unknown:
            raise DataFormError(f"dataForms: unknown keys {unknown}")
        out = cls(**{k: str(v) for k, v in raw.items()})
        for key, allowed in (("identity", IDENTITY_FORMS), ("phone", PHONE_FORMS), ("location", LOCATION_FORMS)):
            if getattr(out, key) not in allowed:
                raise DataFormError(f"dataForms.{key}: one of {list(allowed)}, not {getattr(out, key)!r}")
        return out

    def as_dict(self) -> dict[str, str]:
        return {"identity": self.identity, "phone": self.phone, "location": self.location}


def pseudonym(secret: bytes, app_id: str, user_id: str) -> str:
    """A stable id for (app, user) that no other app can link to the user: 'o' + 27 base32 chars."""
    digest = hmac.new(secret, f"minibox pseudonym\0{app_id}\0{user_id}".encode(), hashlib.sha256).digest()
    return "o" + base64.b32encode(digest).decode().rstrip("=").lower()[:27]


def mask_phone(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def coarsen(latitude: float, longitude: float, cell_deg: float) -> dict[str, float]:
    """The centre of the grid cell holding the point, and the cell's half-diagonal in metres."""
    def centre(v: float) -> float:
        return round((math.floor(v / cell_deg) + 0.5) * cell_deg, 6)

    accuracy = round(cell_deg * 111_320 * math.sqrt(2) / 2)
    return {"latitude": centre(latitude), "longitude": centre(longitude), "accuracy": accuracy,
            "horizontalAccuracy": accuracy}


class RelayNumbers:
    """Virtual phone numbers: one per (app, user), mapped back to the real number only by the bank."""

    def __init__(self, path: Path | str, secret: bytes) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS relay (virtual TEXT PRIMARY KEY, app_id TEXT NOT NULL, "
                         "user_id TEXT NOT NULL, real TEXT NOT NULL, UNIQUE (app_id, user_id))")
        self._secret = secret
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def number_for(self, app_id: str, user_id: str, real: str) -> str:
        with self._lock:
            row = self._db.execute("SELECT virtual, real FROM relay WHERE app_id = ? AND user_id = ?",
                                   (app_id, user_id)).fetchone()
            if row is not None:
                if row[1] != real:
                    self._db.execute("UPDATE relay SET real = ? WHERE virtual = ?", (real, row[0]))
                return str(row[0])
            for attempt in range(1000):
                h = hmac.new(self._secret, f"relay\0{app_id}\0{user_id}\0{attempt}".encode(), hashlib.sha256)
                virtual = RELAY_PREFIX + str(int.from_bytes(h.digest()[:8], "big") % 10**RELAY_DIGITS).zfill(RELAY_DIGITS)
                try:
                    self._db.execute("INSERT INTO relay VALUES (?, ?, ?, ?)", (virtual, app_id, user_id, real))
                    return virtual
                except sqlite3.IntegrityError:
                    continue
            raise RuntimeError("relay number range exhausted")

    def resolve(self, virtual: str) -> tuple[str, str, str] | None:
        """(app_id, user_id, real number) behind a relay number: the bank's side."""
        row = self._db.execute("SELECT app_id, user_id, real FROM relay WHERE virtual = ?", (virtual,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def apps_of(self, user_id: str) -> list[str]:
        rows = self._db.execute("SELECT app_id FROM relay WHERE user_id = ? ORDER BY app_id", (user_id,)).fetchall()
        return [r[0] for r in rows]

    def forget(self, app_id: str, user_id: str) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM relay WHERE app_id = ? AND user_id = ?", (app_id, user_id)).rowcount


CityResolver = Callable[[float, float], Mapping[str, Any] | None]


class Minimiser:
    """One host's rules for handing user data out, applied per the app's `DataForms`."""

    def __init__(self, secret: bytes, relay: RelayNumbers, city: CityResolver | None = None) -> None:
        self._secret, self.relay, self.city = secret, relay, city

    def identity(self, forms: DataForms, app_id: str, user_id: str) -> str:
        return user_id if forms.identity == "host" else pseudonym(self._secret, app_id, user_id)

    def phone(self, forms: DataForms, app_id: str, user_id: str, real: str) -> str | None:
        if not _PHONE.match(real or ""):
            raise ValueError("not a phone number")
        if forms.phone == "real":
            return real
        if forms.phone == "masked":
            return mask_phone(real)
        if forms.phone == "virtual":
            return self.relay.number_for(app_id, user_id, real)
        return None

    def location(self, forms: DataForms, loc: Mapping[str, Any]) -> dict[str, Any]:
        lat, lon = float(loc["latitude"]), float(loc["longitude"])
        if forms.location == "precise":
            return dict(loc)
        if forms.location == "city" and self.city is not None:
            found = self.city(lat, lon)
            if found:  # the city's own reference point, never the user's
                accuracy = int(found.get("accuracy", 20_000))
                out = {"latitude": float(found["latitude"]), "longitude": float(found["longitude"]),
                       "accuracy": accuracy, "horizontalAccuracy": accuracy}
                if "city" in found:
                    out["city"] = str(found["city"])
                return out
        return coarsen(lat, lon, GRID_DEG if forms.location == "grid" else CITY_DEG)


#: Longest retention period a platform may set, in days (ten years).
MAX_RETENTION_DAYS = 3650
RETENTION_KEYS = ("storageDays", "fileDays")


def parse_retention(raw: Any) -> dict[str, int]:
    """An app's retention period as the platform grants it: `{"storageDays": n, "fileDays": n}`,
    each optional, whole days from 1 to MAX_RETENTION_DAYS."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DataFormError("retention: an object of storageDays and fileDays")
    unknown = sorted(set(raw) - set(RETENTION_KEYS))
    if unknown:
        raise DataFormError(f"retention: unknown keys {unknown}")
    out = {}
    for key in RETENTION_KEYS:
        v = raw.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_RETENTION_DAYS:
            raise DataFormError(f"retention.{key}: whole days from 1 to {MAX_RETENTION_DAYS}")
        out[key] = v
    return out

