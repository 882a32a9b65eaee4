"""An app's privacy settings (allowlist `privacy`): which permission scopes and which
`requiredPrivateInfos` APIs the app may ask for at all. One parser for the platform (validation,
the upload checks) and the host (enforcement, `ApiPolicy`).

`{"scopes": ["scope.userLocation"], "infos": ["getLocation"]}`; no `privacy` object: the platform
does not restrict the app; an object: exactly what it lists (a missing list is an empty one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minibox.policy.permissions import REQUIRED_PRIVATE_INFOS_APIS, SCOPES

PRIVACY_KEYS = ("scopes", "infos")
KNOWN = {"scopes": SCOPES, "infos": REQUIRED_PRIVATE_INFOS_APIS}


class PrivacySettingError(ValueError):
    def __init__(self, field: str, entry: str, rule: str, message: str) -> None:
        self.field = f"privacy.{field}" if field else "privacy"
        super().__init__(f"{self.field}: {entry!r} rejected ({rule}): {message}")
        self.entry = entry
        self.rule = rule


@dataclass(frozen=True)
class PrivacySettings:
    scopes: frozenset[str]
    infos: frozenset[str]

    @classmethod
    def parse(cls, raw: Any) -> PrivacySettings:
        if not isinstance(raw, Mapping):
            raise PrivacySettingError("", str(raw)[:64], "shape", "an object with 'scopes' and 'infos' lists")
        unknown = sorted(set(raw) - set(PRIVACY_KEYS))
        if unknown:
            raise PrivacySettingError(str(unknown[0]), str(unknown[0]), "unknown_key",
                                      "only 'scopes' and 'infos' are allowed")
        out: dict[str, frozenset[str]] = {}
        for key in PRIVACY_KEYS:
            entries = raw.get(key) or []
            if not isinstance(entries, list | tuple):
                raise PrivacySettingError(key, str(entries)[:64], "shape", "a list of names")
            for entry in entries:
                if not isinstance(entry, str) or entry not in KNOWN[key]:
                    what = "permission scope" if key == "scopes" else "requiredPrivateInfos API"
                    raise PrivacySettingError(key, str(entry)[:64], f"unknown_{key[:-1]}",
                                              f"not a known {what}; known: {', '.join(sorted(KNOWN[key]))}")
            out[key] = frozenset(entries)
        return cls(out["scopes"], out["infos"])

    def as_dict(self) -> dict[str, list[str]]:
        return {"scopes": sorted(self.scopes), "infos": sorted(self.infos)}
