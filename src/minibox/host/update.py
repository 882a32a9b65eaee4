"""The container's secure update path: check, download with resume, cache, verify on every load.

Sequence of `Updater.update(app_id, user_id)`:

1. **Check** `GET {base}/api/v1/hosts/{host}/apps/{app}/update` on the pinned platform origin
   (no redirects, capped response size, typed errors for 404 no release / 410 taken down /
   unreachable).
2. If the release is the cached one, **load** it. Otherwise **fetch**: the package URL must be on
   the same origin; download at most the announced size (resuming a partial download with an HTTP
   Range request), check its SHA-256, keep it in the cache.
3. **Verify** with :func:`minibox.package.verify_package` (signature, rollback, expiry, hashes,
   decryption, entry policy, in memory), then unpack (`write_tree`); only a package that passes
   becomes the app's current one.
4. **Load** (`load`) always re-runs the full verification from the cached bytes, in memory, never
   trusts an unpacked directory: the runtime loads the verified bytes (`VerifiedPackage.files`,
   `LoadedBundle.from_package`), and the tree on disk (for the assets) is compared with them,
   file by file, before it is used again. When the platform cannot be reached the verified cache
   still starts (offline start). A takedown removes the cached package.

The trusted state (TrustStore) must live outside `cache_dir`; the updater refuses otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from minibox.package import HostKeyPair, TrustStore, TrustStoreError, VerifiedPackage
from minibox.package.answer import DELETIONS_CONTEXT, verify_answer
from minibox.package.manifest import APP_ID_RE, SHA256_RE
from minibox.package.trust import atomic_write
from minibox.package.verify import tree_matches, verify_package, write_tree

#: Largest update-check response accepted.
MAX_CHECK_BYTES = 1024 * 1024
#: Largest package the updater downloads (WeChat's 20 MB in all, plus framing and encryption).
MAX_PACKAGE_BYTES = 40 * 1024 * 1024
#: Network timeouts in seconds (connect, and per read).
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


class UpdateError(Exception):
    """An update step failed; `rule` names the step's rule, `entry` the app or URL."""

    def __init__(self, rule: str, entry: str | None = None, detail: str = "") -> None:
        self.rule, self.entry, self.detail = rule, entry, detail
        super().__init__(f"{rule} [{entry}]: {detail}" if detail else f"{rule} [{entry}]")


class UpdateServerUnreachable(UpdateError):
    """The platform could not be reached (connection refused, timeout, dropped connection)."""


class NoRelease(UpdateError):
    """The platform has no release of the app for this user (HTTP 404)."""


class TakenDown(UpdateError):
    """The platform took the app down (HTTP 410); the cached copy was removed."""


class UpdateProtocolError(UpdateError):
    """The platform answered something the protocol does not allow."""


class DownloadError(UpdateError):
    """The downloaded package does not match the announced size or SHA-256."""


class NotCached(UpdateError):
    """No verified package of the app is cached (offline start impossible)."""


@dataclass(frozen=True)
class UpdateInfo:
    """What the platform says this user should run."""

    app_id: str
    version: str
    build: int
    url: str
    sha256: str
    size: int
    allowlist: dict[str, Any] = field(default_factory=dict)


def _inside(child: Path, parent: Path) -> bool:
    child, parent = child.resolve(), parent.resolve()
    return child == parent or parent in child.parents


class Updater:
    """Update client of one host app for the packages of its mini-programs."""

    def __init__(self, base_url: str, host_id: str, host_key: str, trust: TrustStore, cache_dir: Path,
                 host_private_key: X25519PrivateKey | HostKeyPair | bytes | None = None, *,
                 transport: httpx.BaseTransport | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.host_id = host_id
        self.trust = trust
        self.cache_dir = Path(cache_dir)
        self.host_private_key = host_private_key
        self._now = now
        if _inside(trust.directory, self.cache_dir) or _inside(self.cache_dir, trust.directory):
            raise TrustStoreError("trust-inside-cache", str(trust.directory),
                                  "trusted state must live outside the package cache")
        for sub in ("packages", "partial", "apps", "run"):
            (self.cache_dir / sub).mkdir(parents=True, exist_ok=True)
        self._client = httpx.Client(
            headers={"X-Minibox-Host-Key": host_key},
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            follow_redirects=False,
            transport=transport,
        )
        self._origin = urlsplit(self.base_url)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Updater:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- 1. check -------------------------------------------------------------------------------
    def check(self, app_id: str, user_id: str, **attrs: Any) -> UpdateInfo:
        """Ask the platform which release `user_id` should run (attrs: region, tags, ...)."""
        if not APP_ID_RE.match(app_id):
            raise UpdateProtocolError("bad-app-id", app_id, "not a valid app id")
        params: dict[str, str] = {"user_id": user_id}
        for key, value in attrs.items():
            if value is None:
                continue
            params[key] = ",".join(map(str, value)) if isinstance(value, list | tuple | set) else str(value)
        url = f"{self.base_url}/api/v1/hosts/{self.host_id}/apps/{app_id}/update"
        try:
            with self._client.stream("GET", url, params=params) as response:
                body = self._read_capped(response, MAX_CHECK_BYTES, url)
        except httpx.TransportError as exc:
            raise UpdateServerUnreachable("unreachable", self.base_url, f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        doc = self._json(body, url) if body else {}
        if status == 404:
            raise NoRelease("no_release", app_id, str(doc.get("code", "")))
        if status == 410:
            self._forget(app_id)
            raise TakenDown("taken_down", app_id, str(doc.get("code", "")))
        if status in (502, 503, 504):  # the platform is up but cannot answer now (its database is down)
            raise UpdateServerUnreachable(f"http-{status}", self.base_url, str(doc.get("code", ""))[:200])
        if 300 <= status < 400:
            raise UpdateProtocolError("redirect-refused", url, f"HTTP {status} to {response.headers.get('location')}")
        if status != 200:
            raise UpdateProtocolError(f"http-{status}", url, str(doc.get("code", doc))[:200])
        # the answer carries the allowlist: only a platform signature makes it an authority
        doc = verify_answer(doc, self.trust.trusted_keys(), host_id=self.host_id, user_id=user_id,
                            now=self._now() if self._now else None)
        return self._parse_info(doc, app_id)

    # -- deletion orders (minibox.platform.privacy) ----------------------------------------------
    def deletion_orders(self, user_id: str) -> list[dict[str, Any]]:
        """The platform's signed orders to delete `user_id`'s data that this host has not carried out."""
        url = f"{self.base_url}/api/v1/hosts/{self.host_id}/users/{user_id}/deletions"
        try:
            with self._client.stream("GET", url) as response:
                body = self._read_capped(response, MAX_CHECK_BYTES, url)
        except httpx.TransportError as exc:
            raise UpdateServerUnreachable("unreachable", self.base_url, f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise UpdateProtocolError(f"http-{response.status_code}", url, body[:200].decode("utf-8", "replace"))
        doc = verify_answer(self._json(body, url), self.trust.trusted_keys(), host_id=self.host_id,
                            user_id=user_id, now=self._now() if self._now else None, context=DELETIONS_CONTEXT)
        orders = doc.get("orders")
        if doc.get("kind") != "deletions" or not isinstance(orders, list):
            raise UpdateProtocolError("bad-deletions", url, "not a deletion answer")
        return [o for o in orders if isinstance(o, dict) and isinstance(o.get("id"), int)]

    def acknowledge_deletion(self, order_id: int, counts: dict[str, Any],
                             telemetry_users: dict[str, str] | None = None) -> None:
        url = f"{self.base_url}/api/v1/hosts/{self.host_id}/deletions/{order_id}/ack"
        try:
            response = self._client.post(url, json={"counts": counts, "telemetry_users": telemetry_users or {}})
        except httpx.TransportError as exc:
            raise UpdateServerUnreachable("unreachable", self.base_url, f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise UpdateProtocolError(f"http-{response.status_code}", url, response.text[:200])

    def _read_capped(self, response: httpx.Response, cap: int, url: str) -> bytes:
        chunks, total = [], 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > cap:
                raise UpdateProtocolError("response-too-large", url, f"more than {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _json(body: bytes, url: str) -> dict[str, Any]:
        try:
            doc = json.loads(body)
        except ValueError:
            raise UpdateProtocolError("bad-json", url, "response is not JSON") from None
        if not isinstance(doc, dict):
            raise UpdateProtocolError("bad-json", url, "response is not an object")
        return doc

    def _parse_info(self, doc: dict[str, Any], app_id: str) -> UpdateInfo:
        pkg = doc.get("package")
        if doc.get("app_id") != app_id:
            raise UpdateProtocolError("wrong-app", str(doc.get("app_id")), f"asked for {app_id}")
        if not isinstance(pkg, dict):
            raise UpdateProtocolError("bad-response", app_id, "no package object")
        url, sha, size, build = pkg.get("url"), pkg.get("sha256"), pkg.get("size"), doc.get("build")
        if not isinstance(sha, str) or not SHA256_RE.match(sha):
            raise UpdateProtocolError("bad-response", app_id, "bad package sha256")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_PACKAGE_BYTES:
            raise UpdateProtocolError("bad-response", app_id, f"bad package size {size!r}")
        if isinstance(build, bool) or not isinstance(build, int) or build < 1:
            raise UpdateProtocolError("bad-response", app_id, f"bad build {build!r}")
        if not isinstance(url, str):
            raise UpdateProtocolError("bad-response", app_id, "bad package url")
        allowlist = doc.get("allowlist") or {}
        if not isinstance(allowlist, dict):
            raise UpdateProtocolError("bad-response", app_id, "allowlist must be an object")
        absolute = urljoin(self.base_url + "/", url)
        parts = urlsplit(absolute)
        if (parts.scheme, parts.netloc) != (self._origin.scheme, self._origin.netloc):
            raise UpdateProtocolError("foreign-origin", url, "package must come from the platform origin")
        return UpdateInfo(app_id=app_id, version=str(doc.get("version", "")), build=build, url=absolute,
                          sha256=sha, size=size, allowlist=allowlist)

    # -- 2. fetch -------------------------------------------------------------------------------
    def fetch(self, info: UpdateInfo, progress: Callable[[int, int], None] | None = None) -> Path:
        """Download the package (resuming a partial one), check size and SHA-256, cache it."""
        final = self.cache_dir / "packages" / f"{info.sha256}.mbx"
        if final.is_file() and hashlib.sha256(final.read_bytes()).hexdigest() == info.sha256:
            return final
        part = self.cache_dir / "partial" / f"{info.sha256}.part"
        offset = part.stat().st_size if part.exists() else 0
        if offset >= info.size:
            part.unlink()
            offset = 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with self._client.stream("GET", info.url, headers=headers) as response:
                if response.status_code == 206 and offset:
                    mode = "ab"
                    expected_range = f"bytes {offset}-"
                    if not response.headers.get("content-range", "").startswith(expected_range):
                        raise DownloadError("bad-range", info.url, "server resumed at another offset")
                elif response.status_code == 200:
                    mode, offset = "wb", 0
                elif response.status_code == 410:
                    self._forget(info.app_id)
                    raise TakenDown("taken_down", info.app_id, "package withdrawn")
                else:
                    raise UpdateProtocolError(f"http-{response.status_code}", info.url, "package download failed")
                with open(part, mode) as fh:
                    received = offset
                    for chunk in response.iter_bytes():
                        received += len(chunk)
                        if received > info.size:
                            raise DownloadError("too-long", info.url, f"more than the announced {info.size} bytes")
                        fh.write(chunk)
                        if progress:
                            progress(received, info.size)
                    fh.flush()
                    os.fsync(fh.fileno())
        except DownloadError:
            part.unlink(missing_ok=True)
            raise
        except httpx.TransportError as exc:
            raise UpdateServerUnreachable("download-interrupted", info.url,
                                          f"{type(exc).__name__}; {part.stat().st_size if part.exists() else 0} "
                                          "bytes kept for resume") from None
        size = part.stat().st_size
        if size != info.size:
            raise UpdateServerUnreachable("download-interrupted", info.url, f"{size} of {info.size} bytes")
        digest = hashlib.sha256(part.read_bytes()).hexdigest()
        if digest != info.sha256:
            part.unlink()
            raise DownloadError("hash-mismatch", info.url, "SHA-256 differs from the one announced")
        os.replace(part, final)
        return final

    # -- 3. install -----------------------------------------------------------------------------
    def install(self, info: UpdateInfo, progress: Callable[[int, int], None] | None = None) -> VerifiedPackage:
        """Fetch and verify; only a verified package becomes the app's current one."""
        path = self.fetch(info, progress)
        result = self._verify(info.app_id, path.read_bytes())
        if result.build != info.build:
            raise UpdateProtocolError("build-mismatch", info.app_id,
                                      f"platform announced build {info.build}, package is {result.build}")
        pointer = {"sha256": info.sha256, "build": result.build, "version": result.version,
                   "allowlist": info.allowlist}
        atomic_write(self._pointer(info.app_id), json.dumps(pointer, sort_keys=True).encode())
        self._prune(info.app_id, keep=info.sha256)
        return result

    # -- 4. load --------------------------------------------------------------------------------
    def load(self, app_id: str) -> VerifiedPackage:
        """Start from the cache: the full verification runs again on the cached bytes."""
        current = self.current(app_id)
        if current is None:
            raise NotCached("not-cached", app_id, "no verified package of this app is cached")
        path = self.cache_dir / "packages" / f"{current['sha256']}.mbx"
        if not path.is_file():
            raise NotCached("not-cached", app_id, "cached package file is missing")
        return self._verify(app_id, path.read_bytes())

    def update(self, app_id: str, user_id: str, **attrs: Any) -> VerifiedPackage:
        """Check, fetch if needed, and load; fall back to the verified cache when offline."""
        try:
            info = self.check(app_id, user_id, **attrs)
            current = self.current(app_id)
            if current is not None and current["sha256"] == info.sha256:
                return self.load(app_id)
            return self.install(info)
        except UpdateServerUnreachable as offline:
            try:
                return self.load(app_id)
            except NotCached:
                raise offline from None

    def current(self, app_id: str) -> dict[str, Any] | None:
        path = self._pointer(app_id)
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_bytes())
        except ValueError:
            return None
        return doc if isinstance(doc, dict) and SHA256_RE.match(str(doc.get("sha256"))) else None

    # -- helpers --------------------------------------------------------------------------------
    def _pointer(self, app_id: str) -> Path:
        if not APP_ID_RE.match(app_id):
            raise UpdateProtocolError("bad-app-id", app_id, "not a valid app id")
        return self.cache_dir / "apps" / f"{app_id}.json"

    def _verify(self, app_id: str, data: bytes) -> VerifiedPackage:
        """The full verification, in memory; the runtime loads the verified bytes it returns
        (`VerifiedPackage.files`), and the release's files on disk are checked or written anew."""
        pkg = verify_package(data, trust=self.trust, host_id=self.host_id, host_private_key=self.host_private_key,
                             app_id=app_id, now=self._now() if self._now else None)
        return replace(pkg, path=self._unpacked(app_id, pkg))

    def _unpacked(self, app_id: str, pkg: VerifiedPackage) -> Path:
        """The release's files on disk (assets are read from there). A tree an earlier load of the
        same release left is used again when it still holds exactly the verified files, each read
        and compared (a fraction of writing them); otherwise every earlier tree leaves at once (a
        rename each, deleted in the background) and a fresh one is written."""
        run = self.cache_dir / "run" / app_id
        name = pkg.manifest_sha256[:32]
        if run.is_dir() and not run.is_symlink():
            for tree in run.iterdir():
                if tree.name.startswith(name + "-") and tree_matches(tree, pkg.files):
                    return tree
        trash = self.cache_dir / "run" / ".trash"  # no app id starts with a dot
        moved = False
        if run.is_symlink():
            run.unlink()
        elif run.exists():
            trash.mkdir(exist_ok=True)
            for old in run.iterdir():
                with contextlib.suppress(OSError):
                    old.rename(trash / uuid.uuid4().hex)
                    moved = True
        dest = run / f"{name}-{uuid.uuid4().hex[:16]}"
        try:
            write_tree(dest, pkg.files)
        finally:
            if moved:
                threading.Thread(target=shutil.rmtree, args=(trash,), kwargs={"ignore_errors": True},
                                 name="minibox-unpack-cleanup", daemon=True).start()
        return dest

    def _prune(self, app_id: str, keep: str) -> None:
        """Drop cached packages no app points at any more."""
        wanted = {keep}
        for pointer in (self.cache_dir / "apps").glob("*.json"):
            with contextlib.suppress(ValueError, OSError):
                wanted.add(str(json.loads(pointer.read_bytes()).get("sha256")))
        for pkg in (self.cache_dir / "packages").glob("*.mbx"):
            if pkg.stem not in wanted:
                pkg.unlink(missing_ok=True)

    def _forget(self, app_id: str) -> None:
        current = self.current(app_id)
        self._pointer(app_id).unlink(missing_ok=True)
        shutil.rmtree(self.cache_dir / "run" / app_id, ignore_errors=True)
        if current is not None:
            self._prune(app_id, keep="")
