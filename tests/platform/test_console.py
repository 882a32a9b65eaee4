"""The operator console: static SPA under a strict CSP, its API additions, and whole workflows in Chromium.

The browser tests drive the console only (no API shortcuts for the steps under test): an admin creates an
app and users, a developer uploads (a broken upload shows file:line errors), a reviewer approves, an operator
releases to 10% then 100%, rolls back and takes down, an auditor filters, exports and verifies the log.
Screenshots go to $MINIBOX_CONSOLE_SHOTS (or a temporary directory).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from minibox.platform.apps import service as apps
from minibox.platform.console import CSP, FILES, STATIC
from minibox.platform.context import Ctx
from minibox.policy.permissions import REQUIRED_PRIVATE_INFOS_APIS, SCOPES

from .conftest import PASSWORD, World, auth, project_zip

XSS = '<img src=x onerror="window.__pwned=1">'
WAIT = 20_000


# ---- static checks -------------------------------------------------------------------------------------


def test_console_is_static_with_a_strict_csp(world: World) -> None:
    r = world.client.get("/console")
    assert r.status_code == 200 and r.headers["content-security-policy"] == CSP
    assert "<script>" not in r.text and "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert " style=" not in r.text and " on" not in re.sub(r"<noscript>.*?</noscript>", "", r.text).lower().replace(
        "content", "")
    for name, media in FILES.items():
        a = world.client.get(f"/console/{name}")
        assert a.status_code == 200 and a.headers["content-type"].startswith(media.split(";")[0])
        assert a.headers["content-security-policy"] == CSP
    assert world.client.get("/console/../api.py").status_code == 404
    js = world.client.get("/console/app.js").text
    for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink
    urls = re.findall(r"https?://([^/\s\"'`]+)", js)
    # placeholders only, and the SVG namespace (a name, never fetched): nothing loaded from elsewhere
    assert all(host.endswith("example.com") or host == "www.w3.org" for host in urls), urls
    assert js.count("http://www.w3.org/") == js.count('"http://www.w3.org/2000/svg"')


def _catalogs() -> dict[str, dict[str, str]]:
    text = (STATIC / "i18n.js").read_text()
    out: dict[str, dict[str, str]] = {}
    for lang in ("en", "zh-CN"):
        block = text.split(f'  "{lang}": {{', 1)[1].split("\n  },", 1)[0]
        out[lang] = dict(re.findall(r'^\s+"([^"]+)": ("(?:[^"\\]|\\.)*"),$', block, re.M))
        out[lang] = {k: json.loads(v) for k, v in out[lang].items()}
    return out


def test_both_catalogs_hold_every_string_the_console_uses() -> None:
    js = (STATIC / "app.js").read_text()
    used = set(re.findall(r'\bt\("([A-Za-z0-9_.:-]+)"', js))
    dynamic = {f"nav.{x}" for x in ("apps", "hosts", "users", "reviews", "tokens", "audit", "payments")} \
        | {f"role.{x}" for x in ("admin", "developer", "reviewer", "operator", "auditor")} \
        | {f"review.action.{x}" for x in ("submit", "approve", "reject")} \
        | {f"release.kind.{x}" for x in ("full", "gray", "rollback")} \
        | {f"version.kind.{x}" for x in ("source", "package")} \
        | {f"diff.{x}" for x in ("added", "removed", "changed", "which.source", "which.bundle")} \
        | {f"allow.{x}" for x in ("request", "socket", "uploadFile", "downloadFile", "webView", "hostApis")} \
        | {f"scope.{x}" for x in ("apps:read", "versions:upload", "versions:submit")} \
        | {"allow.privacy_scopes", "allow.privacy_infos"} \
        | {f"privacy.scopes.{x}" for x in SCOPES} | {f"privacy.infos.{x}" for x in REQUIRED_PRIVATE_INFOS_APIS}
    cats = _catalogs()
    assert len(cats["en"]) > 300
    assert set(cats["en"]) == set(cats["zh-CN"]), set(cats["en"]) ^ set(cats["zh-CN"])
    assert not (used | dynamic) - set(cats["en"]), (used | dynamic) - set(cats["en"])
    for key, zh in cats["zh-CN"].items():  # placeholders survive translation
        assert set(re.findall(r"\{\w+\}", zh)) == set(re.findall(r"\{\w+\}", cats["en"][key])), key


def test_the_consoles_privacy_names_are_the_servers() -> None:
    """The scope and privacy-info checkboxes offer exactly what the platform accepts."""
    from minibox.compiler.project import PRIVATE_INFOS

    js = (STATIC / "app.js").read_text()
    block = js.split("const PRIVACY_NAMES = {", 1)[1].split("};", 1)[0]
    scopes, infos = (re.findall(r'"([^"]+)"', part) for part in block.split("infos:", 1))
    assert set(scopes) == SCOPES and len(scopes) == len(SCOPES)
    assert set(infos) == REQUIRED_PRIVATE_INFOS_APIS == PRIVATE_INFOS and len(infos) == len(REQUIRED_PRIVATE_INFOS_APIS)


# ---- API additions used by the console -----------------------------------------------------------------------


def test_user_creation_returns_a_locally_rendered_totp_qr(world: World) -> None:
    r = world.client.post("/api/v1/users", headers=auth(world.a, "admin"),
                          json={"username": f"qr-{uuid.uuid4().hex[:6]}", "role": "reviewer", "password": PASSWORD})
    assert r.status_code == 201, r.text
    svg = r.json()["totp_qr_svg"]
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert "<script" not in svg and "href" not in svg
    assert r.json()["totp_secret"] not in svg  # the secret is only in the QR modules, not as text


def test_language_preference_is_stored_per_user(world: World) -> None:
    p, _ = world.new_user("auditor")
    headers = _session(world, p.user_id)
    assert world.client.get("/api/v1/me", headers=headers).json()["locale"] is None  # not chosen: the browser's
    r = world.client.patch("/api/v1/me/preferences", headers=headers, json={"locale": "zh-CN"})
    assert r.status_code == 200 and r.json()["locale"] == "zh-CN"
    assert world.client.get("/api/v1/me", headers=headers).json()["locale"] == "zh-CN"
    bad = world.client.patch("/api/v1/me/preferences", headers=headers, json={"locale": "fr"})
    assert bad.status_code == 422 and bad.json()["details"][0]["loc"][-1] == "locale"


def _session(world: World, user_id: int) -> dict[str, str]:
    import secrets

    from minibox.platform.accounts import service as accounts
    from minibox.platform.accounts.models import ConsoleSession

    token = accounts.SESSION_PREFIX + secrets.token_urlsafe(24)
    with world.platform.db.write() as s:
        s.add(ConsoleSession(user_id=user_id, token_hash=accounts.sha256_hex(token), csrf_token="x"))
    return {"Authorization": f"Bearer {token}"}


def test_audit_filters_paging_and_exports(world: World) -> None:
    h = auth(world.a, "auditor")
    tag = uuid.uuid4().hex[:8]
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        for i in range(3):
            apps.create_app(ctx, f"audit-{tag}-{i}", f"=cmd|' /C calc'!A{i}")
    rows = world.client.get("/api/v1/audit", headers=h, params={"target": f"audit-{tag}", "action": "app."}).json()
    assert [r["target"] for r in rows] == [f"app:audit-{tag}-{i}" for i in range(3)]
    newest = world.client.get("/api/v1/audit", headers=h,
                              params={"target": f"audit-{tag}", "before": 2**31 - 1, "limit": 2}).json()
    assert [r["target"] for r in newest] == [f"app:audit-{tag}-2", f"app:audit-{tag}-1"]
    older = world.client.get("/api/v1/audit", headers=h,
                             params={"target": f"audit-{tag}", "before": newest[-1]["seq"], "limit": 2}).json()
    assert [r["target"] for r in older] == [f"app:audit-{tag}-0"]
    assert world.client.get("/api/v1/audit", headers=h, params={"actor": "user:nobody-" + tag}).json() == []
    assert world.client.get("/api/v1/audit", headers=h, params={"until": "2000-01-01"}).json() == []
    assert world.client.get("/api/v1/audit", headers=h, params={"since": "yesterday"}).status_code == 422
    r = world.client.get("/api/v1/audit/export", headers=h, params={"target": f"audit-{tag}", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0][:6] == ["seq", "ts", "actor", "action", "target", "outcome"] and len(table) == 4
    assert all(json.loads(row[6])["name"].startswith("=cmd") for row in table[1:])  # a JSON cell: starts with {
    from minibox.platform.audit.routes import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("@SUM(1)") == "'@SUM(1)"  # no spreadsheet formulas
    r = world.client.get("/api/v1/audit/export", headers=h, params={"target": f"audit-{tag}"})
    assert [json.loads(x)["target"] for x in r.text.splitlines()] == [f"app:audit-{tag}-{i}" for i in range(3)]
    assert world.client.get("/api/v1/audit/export", headers=auth(world.a, "admin")).status_code == 403


def test_every_state_changing_call_needs_the_csrf_token_with_the_cookie(world: World) -> None:
    """The console's session cookie alone changes nothing: each non-GET route wants X-CSRF-Token (MGT-04)."""
    import secrets

    from minibox.platform.accounts import service as accounts
    from minibox.platform.accounts.models import ConsoleSession

    from .test_authz_matrix import PUBLIC, all_routes

    token, csrf = accounts.SESSION_PREFIX + secrets.token_urlsafe(24), secrets.token_urlsafe(16)
    with world.platform.db.write() as s:
        s.add(ConsoleSession(user_id=world.a.users["admin"].user_id, token_hash=accounts.sha256_hex(token),
                             csrf_token=csrf))
    values = {"{app_id}": "a", "{version}": "1.0.0", "{user_id}": "1", "{token_id}": "1", "{release_id}": "1",
              "{host_id}": "h", "{path}": "app.js"}
    checked = 0
    for method, path, _action in all_routes():
        if method in ("GET", "HEAD") or (method, path) in PUBLIC:
            continue
        url = path
        for k, v in values.items():
            url = url.replace(k, v)
        for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": csrf, "Origin": "https://evil.example.com"}):
            r = world.client.request(method, url, headers={"Cookie": f"mb_session={token}", **headers}, json={})
            assert r.status_code == 403 and r.json()["code"] == "csrf_failed", (method, path, headers, r.text)
        checked += 1
    assert checked >= 20
    ok = world.client.get("/api/v1/me", headers={"Cookie": f"mb_session={token}"})
    assert ok.status_code == 200  # reads need no token


# ---- in Chromium ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from minibox.view.devserver import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(os.environ.get("MINIBOX_CONSOLE_SHOTS") or tmp_path_factory.mktemp("console-shots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


class Console:
    """One signed-in browser context (own cookies and tab) of one user."""

    def __init__(self, browser: Any, world: World, shots: Path, lang: str = "en"):
        self.ctx = browser.new_context(viewport={"width": 1360, "height": 900}, locale=lang,
                                       timezone_id="Asia/Shanghai", accept_downloads=True)
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" and "401" not in m.text
                     and "403" not in m.text and "422" not in m.text else None)
        self.world, self.shots, self.lang = world, shots, lang

    def login(self, username: str, totp_secret: str | None, password: str = PASSWORD) -> Console:
        p = self.page
        p.goto(f"{self.world.server.url}/console")
        p.wait_for_selector("form.login-form", timeout=WAIT)
        p.fill("input[name=username]", username)
        p.fill("input[name=password]", password)
        if totp_secret:
            p.fill("input[name=totp]", totp_now(totp_secret))
        p.click("form.login-form button[type=submit]")
        p.wait_for_selector("#who", timeout=WAIT)
        return self

    def go(self, hash_: str) -> Any:
        """Open a console page and wait until it is drawn (each route draws a new #view)."""
        self.settle()
        same = self.page.evaluate("(h) => { const v = document.getElementById('view'); if (v) v.dataset.stale = '1';"
                                  " return location.hash === h; }", f"#{hash_}")
        if same:  # the same hash fires no hashchange: redraw as a reload would
            self.page.evaluate("() => window.dispatchEvent(new HashChangeEvent('hashchange'))")
        else:
            self.page.goto(f"{self.world.server.url}/console#{hash_}")
        self.page.wait_for_selector("#view:not([data-stale]) .page-head", timeout=WAIT)
        self.settle()
        return self.page

    def settle(self) -> None:
        """Wait until no page is being drawn (a finished action redraws its page)."""
        self.page.wait_for_selector("body:not([data-busy])", state="attached", timeout=WAIT)

    def shot(self, name: str, both: bool = False) -> None:
        """Screenshot this screen; with `both`, in the other language too (switched in the top bar and back)."""
        self.page.wait_for_timeout(150)
        stray = self.page.evaluate("""() => [...document.querySelectorAll('#view, #view *')].flatMap((e) =>
            [...e.childNodes].filter((n) => n.nodeType === 3 && /^(null|undefined|NaN|\\[object \\w+\\])$/.test(n.textContent.trim()))
            .map((n) => n.textContent))""")
        assert not stray, (name, stray)  # a value the code forgot to format
        self.page.evaluate("() => window.scrollTo(0, 0)")  # full-page shots draw the sticky top bar where it is
        self.page.screenshot(path=str(self.shots / f"{name}-{self.lang}.png"), full_page=True)
        if both:
            other = "zh-CN" if self.lang == "en" else "en"
            self._switch(other)
            self.page.screenshot(path=str(self.shots / f"{name}-{other}.png"), full_page=True)
            self._switch(self.lang)

    def _switch(self, lang: str) -> None:
        self.page.evaluate("() => { document.getElementById('view').dataset.stale = '1'; }")
        self.page.select_option("header select.lang", lang)
        self.page.wait_for_selector(f"html[lang={json.dumps(lang)}] #view:not([data-stale]) .page-head", timeout=WAIT)
        self.settle()
        self.page.wait_for_timeout(150)

    def toast(self, text: str) -> None:
        self.page.wait_for_selector(f"#toasts .toast:has-text({json.dumps(text, ensure_ascii=False)})", timeout=WAIT * 3)

    def confirm(self, label: str) -> None:
        # toasts of earlier actions go first, so `toast()` waits for this action's (the same text may still show)
        self.page.evaluate("() => document.querySelectorAll('#toasts .toast').forEach((n) => n.remove())")
        self.page.click(f"dialog.modal button:has-text({json.dumps(label, ensure_ascii=False)})")

    def close(self) -> None:
        assert not self.errors, self.errors
        self.ctx.close()


_used_steps: dict[str, int] = {}


def totp_now(secret: str) -> str:
    """A fresh code for this secret: the platform refuses a replayed step, so wait for the next one."""
    totp = pyotp.TOTP(secret)
    while _used_steps.get(secret, -1) >= int(time.time()) // totp.interval:
        time.sleep(0.5)
    _used_steps[secret] = int(time.time()) // totp.interval
    return totp.now()


def _state_of(page: Any, version: str) -> str:
    return page.inner_text(f"tr[data-version={json.dumps(version)}] td:nth-child(3)").strip()


def _drop_file(page: Any, data: bytes, name: str) -> None:
    """Drag and drop a file onto the upload zone, as the browser does."""
    dt = page.evaluate_handle("""([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, { type: "application/zip" }));
        return dt; }""", [base64.b64encode(data).decode(), name])
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": dt})


@pytest.mark.browser
@pytest.mark.slow
def test_the_life_of_an_app_through_the_console_only(world: World, chromium: Any, shots: Path,
                                                     tmp_path: Path) -> None:
    u = uuid.uuid4().hex[:6]
    app_id, names = f"wallet-{u}", {r: f"{r[:3]}-{u}" for r in ("developer", "reviewer", "operator")}

    # -- admin: create the app, the users (TOTP enrolment shown with a QR code), membership
    admin = Console(chromium, world, shots).login(world.a.users["admin"].username, world.a.totp["admin"])
    page = admin.go("/apps")
    page.click("form button[type=submit]")  # empty form: refused at the field, nothing created
    page.wait_for_selector(".field[data-field=app_id].invalid, .field[data-field=name].invalid", timeout=WAIT)
    page.fill("input[name=app_id]", app_id)
    page.fill("input[name=name]", "Wallet")
    page.fill("textarea[name=description]", "Mobile wallet mini-program")
    page.click("form button[type=submit]")
    page.wait_for_selector("h1:has-text('Wallet')", timeout=WAIT)
    admin.shot("01-app-created", both=True)

    secrets_: dict[str, str | None] = {}
    page = admin.go("/users")
    page.fill("input[name=username]", "x")
    page.fill("input[name=password]", "short")
    page.click("form button[type=submit]")
    page.wait_for_selector(".field[data-field=password].invalid .field-error:not(:empty), .form-error:not(:empty)",
                           timeout=WAIT)
    for role, name in names.items():
        page.fill("input[name=username]", name)
        page.select_option("select[name=role]", role)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        if role == "developer":
            admin.toast(f"User {name} created.")
            secrets_[role] = None
        else:
            page.wait_for_selector("dialog.modal .totp svg", timeout=WAIT)
            secrets_[role] = page.inner_text("[data-testid=totp-secret]").strip()
            if role == "reviewer":
                admin.shot("02-totp-enrolment")
            admin.confirm("Close")
        page.wait_for_selector(f"tr[data-user={json.dumps(name)}]", timeout=WAIT)
    admin.shot("03-users", both=True)

    page = admin.go(f"/apps/{app_id}/members")
    page.select_option("select[name=user_id]", label=names["developer"])
    page.click("form.inline button[type=submit]")
    page.wait_for_selector(f"table.data td:has-text({json.dumps(names['developer'])})", timeout=WAIT)

    page = admin.go(f"/apps/{app_id}/allowlist")
    page.fill("textarea[name=request]", "https://api.example.com\nhttp://insecure.example.com")
    page.click("button:has-text('Review changes')")
    page.wait_for_selector(".diff-add:has-text('+ request: https://api.example.com')", timeout=WAIT)
    page.click("button:has-text('Save allowlist')")
    page.wait_for_selector(".field[data-field=request].invalid .field-error:has-text('insecure.example.com')",
                           timeout=WAIT)  # refused at the field; nothing saved
    page.fill("textarea[name=request]", "https://api.example.com")
    page.click("button:has-text('Review changes')")
    admin.shot("04-allowlist-diff")
    page.click("button:has-text('Save allowlist')")
    admin.toast("Allowlist saved; it applies from the next release.")

    # -- developer: a broken upload shows file:line; a good one (dropped) is submitted
    dev = Console(chromium, world, shots).login(names["developer"], None)
    page = dev.go(f"/apps/{app_id}")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(project_zip(tmp_path, logic="const x = 1;\nwx.getLocation({ type: 'gcj02' })\n"))
    page.set_input_files("#upload-file", str(broken))
    page.fill("input[name=version]", "0.9.0")
    page.click("form button[type=submit]:has-text('Upload and check')")
    page.wait_for_selector(".report-errors td.where", timeout=WAIT * 3)
    where = page.inner_text(".report-errors td.where")
    assert re.fullmatch(r"pages/index/index\.js:3:\d+", where.strip()), where
    assert "requiredPrivateInfos" in page.inner_text(".report-errors")
    page.click(".report-errors td.where a")  # opens the file at that line
    page.wait_for_selector(".file-view .hl:has-text('wx.getLocation')", timeout=WAIT)
    assert page.query_selector("button:has-text('Submit for review')") is None
    dev.shot("05-check-report-errors", both=True)

    page = dev.go(f"/apps/{app_id}")
    page.fill("input[name=version]", "0.9.1")
    bad_wxml = project_zip(tmp_path, extra={"pages/index/index.wxml": "<view>\n  <text>{{a</text>\n</view>\n"})
    _drop_file(page, bad_wxml, "badwxml.zip")
    page.click("form button[type=submit]:has-text('Upload and check')")
    # A compile error is either refused (422, nothing stored) or recorded as a failed version: both show file:line.
    where = page.wait_for_selector(".compile-errors td.where, .report-errors td.where", timeout=WAIT * 3)
    assert where.inner_text().strip() == "pages/index/index.wxml:2:9"
    dev.shot("06-compile-errors")

    for version in ("1.0.0", "1.1.0"):
        page = dev.go(f"/apps/{app_id}")
        page.fill("input[name=version]", version)
        _drop_file(page, project_zip(tmp_path, title=f"v{version}"), f"wallet-{version}.zip")
        assert "wallet-" in page.inner_text(".dropzone .file-name")
        page.click("form button[type=submit]:has-text('Upload and check')")
        page.wait_for_selector("button:has-text('Submit for review')", timeout=WAIT * 3)
        page.fill("textarea[name=comment]", f"please review {version}")
        page.click("button:has-text('Submit for review')")
        page.wait_for_selector(".notice:has-text('You cannot approve your own version')", timeout=WAIT)
    dev.shot("07-submitted-sod", both=True)
    page = dev.go(f"/apps/{app_id}")
    assert _state_of(page, "0.9.0") == "checks failed" and _state_of(page, "1.0.0") == "in review"

    # -- reviewer: the queue, a rejection needs a comment, approvals
    rev = Console(chromium, world, shots).login(names["reviewer"], secrets_["reviewer"])
    page = rev.go("/reviews")
    rev.shot("08-review-queue", both=True)
    for version in ("1.0.0", "1.1.0"):
        page = rev.go("/reviews")
        page.click(f"#view a:text-is({json.dumps(version)})")
        page.wait_for_selector("button:has-text('Approve')", timeout=WAIT)
        if version == "1.0.0":
            page.click("button:has-text('Reject')")  # no comment: refused at the field
            page.wait_for_selector(".field[data-field=comment].invalid", timeout=WAIT)
            rev.shot("09-review-decide")
        else:  # the diff against the previous approved version is open beside the decision
            page.wait_for_selector("text=Changes since 1.0.0", timeout=WAIT)
            assert "pages/index/index.wxml" in page.inner_text(".diff-files .file-list")
            page.wait_for_selector(".code-diff .diff-add:has-text('v1.1.0')", timeout=WAIT)
            assert "v1.0.0" in page.inner_text(".code-diff .diff-del")
            rev.shot("09b-review-diff", both=True)
        page.fill("textarea[name=comment]", "LGTM")
        page.click("button:has-text('Approve')")
        rev.toast("Version approved.")
        page.wait_for_selector(".page-head .badge:has-text('approved')", timeout=WAIT)

    # -- operator: full 1.0.0, then 1.1.0 to 10%, 100%, roll back, take down
    op = Console(chromium, world, shots).login(names["operator"], secrets_["operator"])

    def release(version: str, pct: float | None) -> None:
        page = op.go(f"/apps/{app_id}/releases")
        page.select_option("form.release select[name=version]", version)
        page.select_option("form.release select[name=mode]", "gray" if pct is not None else "full")
        if pct is not None:
            page.fill("form.release input[name=percentage]", "150")
            page.click("form.release button[type=submit]")
            page.wait_for_selector(".field[data-field=percentage].invalid", timeout=WAIT)
            page.fill("form.release input[name=percentage]", str(pct))
            page.fill("form.release input[name=regions]", "cn-sh, cn-bj")
            assert "10% of users" in page.inner_text(".rule-preview")
            op.shot("10-grayscale-rule")
        page.click("form.release button[type=submit]")
        op.confirm("Release")
        op.toast(f"{version} released.")

    release("1.0.0", None)
    release("1.1.0", 10)
    page = op.go(f"/apps/{app_id}")
    assert _state_of(page, "1.1.0") == "released to 10%" and _state_of(page, "1.0.0") == "released to 100%"
    op.shot("11-versions-gray", both=True)
    page = op.go(f"/apps/{app_id}/releases")  # stop the grayscale release, then start it again
    page.click("button:has-text('Stop')")
    op.confirm("Stop")
    op.toast("Release stopped.")
    page = op.go(f"/apps/{app_id}")
    assert _state_of(page, "1.1.0") == "grayscale stopped" and _state_of(page, "1.0.0") == "released to 100%"
    release("1.1.0", 10)
    release("1.1.0", None)
    page = op.go(f"/apps/{app_id}")
    assert _state_of(page, "1.1.0") == "released to 100%" and _state_of(page, "1.0.0") == "superseded"

    page = op.go(f"/apps/{app_id}/releases")
    page.select_option("form.rollback select[name=version]", "1.0.0")
    page.click("form.rollback button[type=submit]")
    op.confirm("Roll back")
    op.toast("Rolled back to 1.0.0.")
    page = op.go(f"/apps/{app_id}")
    assert _state_of(page, "1.1.0") == "rolled back" and _state_of(page, "1.0.0") == "released (rollback)"

    page = op.go(f"/apps/{app_id}/releases")
    page.click("button:has-text('Take down the app')")  # no reason: refused at the field
    page.wait_for_selector(".field[data-field=reason].invalid", timeout=WAIT)
    page.fill("textarea[name=reason]", "fraud report #42")
    page.click("button:has-text('Take down the app')")
    op.confirm("Take down the app")
    op.toast("App taken down.")
    op.shot("12-releases-history", both=True)
    page = op.go(f"/apps/{app_id}")
    assert _state_of(page, "1.0.0") == "taken down" and _state_of(page, "1.1.0") == "rolled back"
    assert "fraud report #42" in page.inner_text(".page-head")
    op.shot("13-versions-every-state", both=True)

    # -- auditor: filter, page, export, verify
    aud = Console(chromium, world, shots).login(world.a.users["auditor"].username, None)
    page = aud.go("/audit")
    page.fill("input[name=action]", "release.")
    page.fill("input[name=target]", app_id)
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("tr[data-seq]", timeout=WAIT)
    actions = page.eval_on_selector_all("tr[data-seq] td:nth-child(4)", "els => els.map(e => e.textContent)")
    assert set(actions) == {"release.full", "release.gray", "release.stop", "release.reissue", "release.rollback",
                            "release.takedown"}, actions
    with page.expect_download() as dl:
        page.click("a:has-text('Export CSV')")
    exported = Path(dl.value.path()).read_text()
    assert exported.startswith("seq,ts,actor") and exported.count("\n") == len(actions) + 1
    page.click("button:has-text('Verify chain')")
    page.wait_for_selector(".verify .notice-ok:has-text('Chain intact')", timeout=WAIT)
    aud.shot("14-audit", both=True)

    for c in (admin, dev, rev, op, aud):
        c.close()


@pytest.mark.browser
def test_roles_are_refused_in_the_page(world: World, chromium: Any, shots: Path) -> None:
    dev = Console(chromium, world, shots).login(world.a.users["developer"].username, None)
    nav = dev.page.inner_text("#tabs")
    assert "Users" not in nav and "Audit" not in nav and "Host apps" not in nav
    page = dev.go("/users")  # not in the menu; the server refuses anyway, and the page says so
    assert page.inner_text(".page-head h1") == "Not permitted"
    assert "Your role may not do this." in page.inner_text("#view .notice")
    dev.shot("20-refused", both=True)
    page = dev.go("/audit")
    assert page.inner_text(".page-head h1") == "Not permitted"
    dev.close()


@pytest.mark.browser
def test_zh_cn_chosen_per_user_and_dates_in_the_users_time_zone(world: World, chromium: Any, shots: Path) -> None:
    p, _ = world.new_user("auditor")
    c = Console(chromium, world, shots, lang="zh-CN")
    page = c.page
    page.goto(f"{world.server.url}/console")
    page.wait_for_selector("form.login-form", timeout=WAIT)
    assert page.inner_text("form.login-form button[type=submit]") == "登录"  # browser language on first visit
    c.login(p.username, None)
    page = c.go("/account")
    page.select_option("select[name=locale]", "zh-CN")
    page.click("form button:has-text('保存')")
    c.toast("偏好已保存。")
    page = c.go("/audit")
    assert page.inner_text(".page-head h1") == "审计日志"
    when = page.inner_text("tr[data-seq] td:nth-child(2)")
    assert "年" in when, when  # Chinese date format, in the browser's time zone
    c.shot("30-audit")
    c.close()

    # The choice is the user's, stored on the server: an English browser still gets Chinese.
    en = Console(chromium, world, shots, lang="en").login(p.username, None)
    assert "审计日志" in en.page.inner_text("#tabs")
    en.close()
    with world.platform.db.read() as s:
        from minibox.platform.accounts.models import User

        assert s.get(User, p.user_id).locale == "zh-CN"


@pytest.mark.browser
def test_hostile_names_are_shown_as_text_and_logout_ends_the_session(world: World, chromium: Any,
                                                                     shots: Path) -> None:
    app_id = f"xss-{uuid.uuid4().hex[:6]}"
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, app_id, XSS)
        apps.add_member(ctx, app_id, world.a.users["developer"].user_id)
    c = Console(chromium, world, shots).login(world.a.users["developer"].username, None)
    page = c.go("/apps")
    page.wait_for_selector("text=xss-", timeout=WAIT)
    assert XSS in page.inner_text("#view")
    assert page.evaluate("window.__pwned") is None
    assert page.inner_text("#who").endswith("(developer)")
    page.click("#logout")
    page.wait_for_selector("form.login-form", timeout=WAIT)
    assert "signed out" in page.inner_text(".login-card")
    r = page.request.get(f"{world.server.url}/api/v1/me")
    assert r.status == 401
    c.close()


@pytest.mark.browser
def test_password_change_session_expiry_and_csrf(world: World, chromium: Any, shots: Path) -> None:
    p, _ = world.new_user("developer")
    c = Console(chromium, world, shots).login(p.username, None)
    page = c.go("/account")
    page.fill("input[name=old_password]", PASSWORD)
    page.fill("input[name=new_password]", "Another-Horse-43-battery")
    page.fill("input[name=confirm]", "Another-Horse-43-batteryX")
    page.click("form:has(input[name=confirm]) button[type=submit]")
    page.wait_for_selector(".field[data-field=confirm].invalid", timeout=WAIT)
    page.fill("input[name=new_password]", "weakweakweak")
    page.fill("input[name=confirm]", "weakweakweak")
    page.click("form:has(input[name=confirm]) button[type=submit]")
    page.wait_for_selector(".field[data-field=new_password].invalid .field-error:has-text('too weak')", timeout=WAIT)
    c.shot("40-password-refused")
    page.fill("input[name=new_password]", "Another-Horse-43-battery")
    page.fill("input[name=confirm]", "Another-Horse-43-battery")
    page.click("form:has(input[name=confirm]) button[type=submit]")
    c.toast("Password changed; your other sessions have ended.")

    # The session cookie alone does not authorise a change: the CSRF token is needed.
    r = page.request.post(f"{world.server.url}/api/v1/auth/logout")
    assert r.status == 403 and r.json()["code"] == "csrf_failed"

    # The session ends on the server (idle timeout, or ended elsewhere): the next action says so.
    from sqlalchemy import update

    from minibox.platform.accounts.models import ConsoleSession
    from minibox.platform.db import utcnow

    with world.platform.db.write() as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.user_id == p.user_id).values(revoked_at=utcnow()))
    page.click("#tabs a:has-text('Apps')")
    page.wait_for_selector(".login-card .notice:has-text('Your session has ended')", timeout=WAIT)
    c.shot("41-session-ended")
    c.login(p.username, None, password="Another-Horse-43-battery")
    c.close()


@pytest.mark.browser
def test_an_idle_console_clears_itself(world: World, chromium: Any, shots: Path) -> None:
    c = Console(chromium, world, shots)
    c.page.clock.install()
    c.login(world.a.users["developer"].username, None)
    c.go("/apps")
    c.page.clock.fast_forward("29:00")
    c.page.wait_for_timeout(300)
    assert c.page.query_selector("#who") is not None  # still there before the idle timeout
    c.page.clock.fast_forward("01:30")
    c.page.wait_for_selector(".login-card .notice:has-text('Your session has ended')", timeout=WAIT)
    assert c.page.query_selector("#view") is None  # nothing of the data left on screen
    c.close()


@pytest.mark.browser
def test_hosts_and_api_tokens(world: World, chromium: Any, shots: Path) -> None:
    admin_p, admin_totp = world.new_user("admin")
    app_id = f"hostapp-{uuid.uuid4().hex[:6]}"
    with world.platform.db.write() as s:
        apps.create_app(Ctx(s, world.platform, world.a.users["admin"]), app_id, "Host test app")
    admin = Console(chromium, world, shots).login(admin_p.username, admin_totp)
    page = admin.go("/hosts")
    page.fill("input[name=name]", "Mobile Bank")
    page.click("form button[type=submit]")
    page.wait_for_selector("dialog.modal textarea[data-secret='API key']", timeout=WAIT)
    assert page.input_value("dialog.modal textarea[data-secret='API key']").startswith("mbh_")
    assert "PRIVATE KEY" in page.input_value("dialog.modal textarea[data-secret='Private key (PEM)']")
    admin.shot("50-host-registered")
    admin.confirm("Close")
    page.click("#view a:text-is('Mobile Bank')")
    page.wait_for_selector("h1:has-text('Mobile Bank')", timeout=WAIT)
    page.select_option("select[name=app_id]", app_id)
    page.click("form.inline button[type=submit]")
    page.wait_for_selector(f"table.data code:text-is({json.dumps(app_id)})", timeout=WAIT)
    page.click("button:has-text('Rotate API key')")
    admin.confirm("Rotate API key")
    page.wait_for_selector("dialog.modal textarea[data-secret='API key']", timeout=WAIT)
    admin.confirm("Close")
    page.click("button:has-text('Revoke host')")
    admin.confirm("Revoke host")
    page.wait_for_selector(".page-head .badge:has-text('revoked')", timeout=WAIT)
    admin.shot("51-host-revoked", both=True)
    admin.close()

    dev = Console(chromium, world, shots).login(world.a.users["developer"].username, None)
    page = dev.go("/tokens")
    page.fill("input[name=name]", "ci")
    page.click("form button[type=submit]")  # no scope: refused at the field
    page.wait_for_selector(".field[data-field=scopes].invalid", timeout=WAIT)
    page.check("input[name=scopes][value='versions:upload']")
    page.fill("input[name=expires_in_days]", "30")
    page.click("form button[type=submit]")
    page.wait_for_selector("dialog.modal textarea[data-secret='Token']", timeout=WAIT)
    assert page.input_value("dialog.modal textarea[data-secret='Token']").startswith("mbt_")
    dev.confirm("Close")
    page.wait_for_selector("table.data .badge:has-text('versions:upload')", timeout=WAIT)
    dev.shot("52-tokens", both=True)
    page.click("table.data button:has-text('Revoke') >> nth=-1")
    page.wait_for_selector("table.data tr:last-child .badge:has-text('revoked')", timeout=WAIT)
    dev.close()


@pytest.mark.browser
def test_watermark_and_privacy_settings_beside_the_allowlist(world: World, chromium: Any, shots: Path) -> None:
    """Issue 10: the per-app watermark template and privacy settings, edited with the allowlist (diff
    before save, refusals at the field), in both languages; what the form does not edit is kept."""
    admin_p, admin_totp = world.new_user("admin")
    app_id = f"privacy-{uuid.uuid4().hex[:6]}"
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, app_id, "Privacy app")
        apps.set_allowlist(ctx, app_id, {"request": ["https://api.example.com"], "dataForms": {"phone": "masked"}})

    def stored() -> dict[str, Any]:
        return world.client.get(f"/api/v1/apps/{app_id}", headers=auth(world.a, "admin")).json()["allowlist"]

    admin = Console(chromium, world, shots).login(admin_p.username, admin_totp)
    page = admin.go(f"/apps/{app_id}/allowlist")
    assert page.is_hidden(".privacy-groups")  # not restricted yet
    page.fill("input[name=watermark]", "{user} {phone}")
    page.check("input[name=privacy]")
    page.check("input[name='privacy.scopes'][value='scope.userLocation']")
    page.check("input[name='privacy.infos'][value='getLocation']")
    page.click("button:has-text('Review changes')")
    page.wait_for_selector(".diff-add:has-text('+ watermark: {user} {phone}')", timeout=WAIT)
    page.wait_for_selector(".diff-add:has-text('+ privacy.scopes: scope.userLocation')", timeout=WAIT)
    page.wait_for_selector(".diff-add:has-text('+ privacy.infos: getLocation')", timeout=WAIT)
    page.click("button:has-text('Save allowlist')")
    page.wait_for_selector(".field[data-field=watermark].invalid .field-error:has-text('{phone}')", timeout=WAIT)
    assert "watermark" not in stored() and "privacy" not in stored()  # refused: nothing saved

    page.fill("input[name=watermark]", "{user} · {app} · {date}")
    assert page.is_disabled("button:has-text('Save allowlist')")  # an edit needs a new review
    page.click("button:has-text('Review changes')")
    page.wait_for_selector(".diff-add:has-text('+ watermark: {user} · {app} · {date}')", timeout=WAIT)
    admin.shot("06-allowlist-watermark-privacy-diff")
    page.click("button:has-text('Save allowlist')")
    admin.toast("Allowlist saved; it applies from the next release.")
    admin.settle()
    got = stored()
    assert got["watermark"] == "{user} · {app} · {date}"
    assert got["privacy"] == {"scopes": ["scope.userLocation"], "infos": ["getLocation"]}
    assert got["request"] == ["https://api.example.com"] and got["dataForms"]["phone"] == "masked"

    # shown as saved; lifting the restriction is a change of its own in the diff
    page = admin.go(f"/apps/{app_id}/allowlist")
    assert page.input_value("input[name=watermark]") == "{user} · {app} · {date}"
    assert page.is_checked("input[name='privacy.scopes'][value='scope.userLocation']")
    assert not page.is_checked("input[name='privacy.scopes'][value='scope.camera']")
    admin.shot("06-allowlist-watermark-privacy", both=True)
    page.uncheck("input[name=privacy]")
    page.fill("input[name=watermark]", "")
    page.click("button:has-text('Review changes')")
    page.wait_for_selector(".diff-del:has-text('- privacy: restricted to the chosen scopes and infos')", timeout=WAIT)
    page.wait_for_selector(".diff-del:has-text('- privacy.scopes: scope.userLocation')", timeout=WAIT)
    page.wait_for_selector(".diff-del:has-text('- watermark: {user} · {app} · {date}')", timeout=WAIT)
    page.click("button:has-text('Save allowlist')")
    admin.toast("Allowlist saved; it applies from the next release.")
    admin.settle()
    got = stored()
    assert "privacy" not in got and "watermark" not in got and got["dataForms"]["phone"] == "masked"
    admin.close()

    # in Chinese, for a reader who may not edit: the settings shown, translated, read-only
    with world.platform.db.write() as s:
        apps.set_allowlist(Ctx(s, world.platform, world.a.users["admin"]), app_id,
                           {"watermark": "{user} {date}", "privacy": {"scopes": ["scope.camera"], "infos": []}})
    reader_p, reader_totp = world.new_user("reviewer")
    zh = Console(chromium, world, shots, lang="zh-CN").login(reader_p.username, reader_totp)
    page = zh.go(f"/apps/{app_id}/allowlist")
    page.wait_for_selector("h3:has-text('隐私设置')", timeout=WAIT)
    page.wait_for_selector("label:has-text('scope.camera — 摄像头')", timeout=WAIT)
    assert page.is_checked("input[name='privacy.scopes'][value='scope.camera']")
    assert page.is_disabled("input[name='privacy.scopes'][value='scope.camera']") and page.is_disabled("input[name=privacy]")
    assert page.get_attribute("input[name=watermark]", "readonly") is not None
    assert page.query_selector("button:has-text('保存白名单')") is None
    zh.shot("07-allowlist-privacy-readonly")
    zh.close()


@pytest.mark.browser
def test_a_payment_looked_up_by_order_id_for_a_dispute(world: World, chromium: Any, shots: Path) -> None:
    from datetime import UTC, datetime

    from minibox.platform.hosts import service as hosts
    from minibox.platform.telemetry.models import TelemetryEvent

    app_id = f"pay{uuid.uuid4().hex[:6]}"
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        app = apps.create_app(ctx, app_id, "Payments")
        host = hosts.register(ctx, f"pay-host-{app_id}", None).host
        s.flush()
        for step, data in (("risk", {"outcome": "step_up", "score": 60, "rules": ["velocity.user"]}),
                           ("step_up", {"method": "totp", "passed": True}), ("confirmation", {"confirmed": True}),
                           ("settled", {"paid": True, "amount_fen": 1999})):
            s.add(TelemetryEvent(app_pk=app.id, host_pk=host.id, version="1.0.0", ts=datetime.now(UTC),
                                 kind="payment_record", name="wxorder42", user="0" * 32, session="0",
                                 data={"step": step, **data}))
    op = Console(chromium, world, shots).login(world.a.users["operator"].username, world.a.totp["operator"])
    assert "Payments" in op.page.inner_text("#tabs")
    page = op.go("/payments")
    page.fill("form.filters input[name=order]", "no such order!")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(".field[data-field=order].invalid", timeout=WAIT)
    page.fill("form.filters input[name=order]", "wxorder42")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(".payment-result table", timeout=WAIT)
    text = page.inner_text(".payment-result")
    for word in ("wxorder42", app_id, "risk", "step_up", "confirmation", "settled", "velocity.user"):
        assert word in text, word
    with page.expect_download() as dl:
        page.click(".payment-result a.btn")
    assert json.loads(Path(dl.value.path()).read_text())["order_id"] == "wxorder42"
    op.shot("30-payment-lookup", both=True)
    op.close()

