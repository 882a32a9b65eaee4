"""User data handed out in the form the app is granted (minibox.policy.datamin): the phone number
behind `<button open-type="getPhoneNumber">`, and the redemption of login and phone codes by the
app's server, which is where a mini-program's backend learns who the user is, as in WeChat
(`code2Session`, `getuserphonenumber`).

The button asks the host (scope `scope.phoneNumber`, drawn by the host) and returns a one-time code
(`{code, errMsg: "getPhoneNumber:ok"}`), never the number. `UserDataService.redeem_phone(code)`
gives the number as the app's `dataForms.phone` says; `redeem_login(code)` gives the app's user id
as `dataForms.identity` says (a per-app pseudonym by default).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minibox.apis.registry import ApiError, ApiRegistry, ApiSpec, CallContext
from minibox.policy.datamin import DataForms, Minimiser

API = "button.getPhoneNumber"
#: A phone or login code is good for five minutes and one redemption (WeChat).
CODE_TTL_S = 300
MAX_OPEN_CODES = 10_000


class RedeemError(Exception):
    """The code is unknown, used, expired, or for data the app is not granted."""


@dataclass(frozen=True)
class _Code:
    app_id: str
    user_id: str
    forms: DataForms
    expires: float


class UserDataService:
    def __init__(self, minimiser: Minimiser, *, phone_provider: Callable[[str], str | None] | None = None,
                 login_codes: Mapping[str, tuple[str, str]] | None = None,
                 forms_of: Callable[[str], DataForms] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.minimiser, self.phone_provider, self.clock = minimiser, phone_provider, clock
        self.login_codes = login_codes if login_codes is not None else {}
        self.forms_of = forms_of or (lambda app_id: DataForms())
        self._phone_codes: dict[str, _Code] = {}
        self._lock = threading.Lock()

    def phone_code(self, app_id: str, user_id: str, forms: DataForms) -> str:
        if forms.phone == "none":
            raise ApiError("getPhoneNumber:fail no permission")
        if self.phone_provider is None or not self.phone_provider(user_id):
            raise ApiError("getPhoneNumber:fail user has no phone number")
        now = self.clock()
        with self._lock:
            for c in [c for c, v in self._phone_codes.items() if v.expires < now]:
                del self._phone_codes[c]
            if len(self._phone_codes) >= MAX_OPEN_CODES:
                raise ApiError("getPhoneNumber:fail too many requests")
            code = secrets.token_urlsafe(24)
            self._phone_codes[code] = _Code(app_id, user_id, forms, now + CODE_TTL_S)
        return code

    def redeem_phone(self, code: str, app_id: str) -> dict[str, Any]:
        """For the app's server: the number behind a code, once, in the app's granted form."""
        with self._lock:  # another app's server cannot burn the code
            entry = self._phone_codes.get(code)
            if entry is None or entry.app_id != app_id or entry.expires < self.clock():
                raise RedeemError("invalid code")
            del self._phone_codes[code]
        real = self.phone_provider(entry.user_id) if self.phone_provider else None
        if not real:
            raise RedeemError("user has no phone number")
        number = self.minimiser.phone(entry.forms, entry.app_id, entry.user_id, real)
        if number is None:
            raise RedeemError("the app is not granted the phone number")
        return {"phoneNumber": number, "form": entry.forms.phone}

    def redeem_login(self, code: str, app_id: str) -> dict[str, Any]:
        """For the app's server: who logged in, as the app's granted identity form."""
        owner = self.login_codes.get(code)
        if owner is None or owner[0] != app_id:
            raise RedeemError("invalid code")
        forms = self.forms_of(app_id)
        return {"openid": self.minimiser.identity(forms, owner[0], owner[1]), "form": forms.identity}


def _phone(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    svc = ctx.services.extra.get("userdata")
    if not isinstance(svc, UserDataService):
        raise ApiError("getPhoneNumber:fail no permission")
    grants = getattr(ctx.services.policy, "grants", None)
    forms = grants.data_forms if grants is not None else DataForms()
    return {"code": svc.phone_code(ctx.app_id, ctx.user_id, forms), "errMsg": "getPhoneNumber:ok"}


def register(registry: ApiRegistry) -> None:
    registry.register(ApiSpec(API, _phone, {}, scope="scope.phoneNumber", privacy=True))
