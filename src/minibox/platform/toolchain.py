"""The platform's use of the compiler and the package format (minibox.compiler, minibox.package).

- `compile_source`: compile a project in a child process with OS limits and a deadline.
- `unpack_precompiled`: verify a developer's `.mbx` against the org's upload keys and unpack it.
- `platform_signer` / `trust_keyset`: the platform signing key and the key set hosts trust.
- `protect_bundle`: code protection of a bundle in a child process with OS limits and a deadline.
- `build_host_package`: sign and encrypt a reviewed bundle for one host.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from minibox.platform.errors import InvalidInput, Throttled

#: Seconds a compile may take; memory (bytes) and CPU seconds of the compile process.
COMPILE_TIMEOUT_S = 60
COMPILE_MEMORY_LIMIT = 2 * 1024 * 1024 * 1024
COMPILE_CPU_LIMIT_S = 60
#: Seconds code protection of one bundle may take (terser's own budget, compiler/protect.py
#: PROTECT_BUDGET_SECONDS, ends earlier: its last module may take MINIFY_SECONDS more).
PROTECT_TIMEOUT_S = 120
SIGNING_KEY_FILE = "platform-signing.pem"
#: Compiles running at once in one replica; others wait this long, then get 429 compile_busy (MGT-12).
MAX_CONCURRENT_COMPILES = 2
COMPILE_QUEUE_WAIT_S = 30
_compile_slots = threading.BoundedSemaphore(MAX_CONCURRENT_COMPILES)


class CompileFailed(InvalidInput):
    code = "compile_failed"


class ProtectFailed(Exception):
    """Code protection of a whole bundle failed (its child process crashed or ran out of time)."""


def _limit_child() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (COMPILE_MEMORY_LIMIT, COMPILE_MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (COMPILE_CPU_LIMIT_S, COMPILE_CPU_LIMIT_S))


def _limit_protect_child() -> None:  # pragma: no cover - runs in the child
    cpu = max(1, int(PROTECT_TIMEOUT_S))
    resource.setrlimit(resource.RLIMIT_AS, (COMPILE_MEMORY_LIMIT, COMPILE_MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def compile_source(src_dir: Path, out_dir: Path) -> None:
    """Compile; raise `CompileFailed` with every error as `file:line:col: message`."""
    if not _compile_slots.acquire(timeout=COMPILE_QUEUE_WAIT_S):
        raise Throttled("the compile queue is full: retry later", code="compile_busy")
    try:
        _compile(src_dir, out_dir)
    finally:
        _compile_slots.release()


def _compile(src_dir: Path, out_dir: Path) -> None:
    try:
        proc = subprocess.run([sys.executable, "-m", "minibox.platform.apps.compile_worker", str(src_dir),
                               str(out_dir)], capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S,
                              preexec_fn=_limit_child, check=False)
    except subprocess.TimeoutExpired as e:
        raise CompileFailed(f"compile took longer than {COMPILE_TIMEOUT_S} s", details={"errors": []}) from e
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise CompileFailed(f"the compiler failed: {tail[0][:300]}", details={"errors": []})
    result: dict[str, Any] = json.loads(lines[-1])
    if "errors" in result:
        errors = result["errors"]
        for e in errors:
            e["location"] = f"{e['file']}:{e['line']}:{e['column']}"
        first = errors[0] if errors else {"location": "?", "message": "unknown error"}
        raise CompileFailed(f"{len(errors)} compile error(s); first: {first['location']}: {first['message']}",
                            details={"errors": errors})


def protect_bundle(bundle_dir: Path, maps_path: Path) -> dict[str, Any]:
    """Protect a compiled bundle in place, writing its private source maps to `maps_path`; returns the
    summary (`minibox.compiler.protect.Protection.summary`). Modules that cannot be protected are left
    as written (listed in `skipped`); a failure of the whole run raises `ProtectFailed`, and the bundle
    directory is then unusable (the caller protects a copy)."""
    if not _compile_slots.acquire(timeout=COMPILE_QUEUE_WAIT_S):
        raise Throttled("the compile queue is full: retry later", code="compile_busy")
    try:
        try:
            proc = subprocess.run([sys.executable, "-m", "minibox.platform.apps.protect_worker", str(bundle_dir),
                                   str(maps_path)], capture_output=True, text=True, timeout=PROTECT_TIMEOUT_S,
                                  preexec_fn=_limit_protect_child, check=False)
        except subprocess.TimeoutExpired as e:
            raise ProtectFailed(f"code protection took longer than {PROTECT_TIMEOUT_S} s") from e
        except (OSError, subprocess.SubprocessError) as e:
            raise ProtectFailed(f"code protection could not start: {e}") from e
    finally:
        _compile_slots.release()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines or not maps_path.is_file():
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise ProtectFailed(f"code protection failed: {tail[0][:300]}")
    try:
        summary: dict[str, Any] = json.loads(lines[-1])
    except ValueError as e:
        raise ProtectFailed("code protection failed: its report is not JSON") from e
    return summary


def _source_root(extracted: Path) -> Path:
    """The project root: the archive root, or its single top-level directory."""
    markers = ("project.config.json", "app.json")
    if any((extracted / m).exists() for m in markers):
        return extracted
    children = [p for p in extracted.iterdir() if not p.name.startswith(".")]
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return extracted


def source_root(extracted: Path) -> Path:
    return _source_root(extracted)


def platform_signer(key_dir: Path) -> Any:
    """The platform's package signing key (created on first start; replicas share the key dir)."""
    from minibox.package import SigningKey

    path = key_dir / SIGNING_KEY_FILE
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        try:
            with open(path, "xb") as f:
                f.write(key.to_pem())
            path.chmod(0o600)
        except FileExistsError:
            pass
    return SigningKey.load(path)


def trust_keyset(signer: Any) -> bytes:
    """The signed key set a host provisions its trust store with."""
    from minibox.package import make_keyset

    return make_keyset([signer], signers=[signer])  # type: ignore[no-any-return]


def unpack_precompiled(data: bytes, dest: Path, upload_keys: list[str], app_id: str) -> Any:
    """Verify an unencrypted `.mbx` signed by one of the org's upload keys (PEM) and unpack it."""
    from minibox.package import (
        PackageError,
        SigningKey,
        TrustStore,
        load_ed25519_public,
        make_keyset,
        verify_and_unpack,
    )

    if not upload_keys:
        raise InvalidInput("this organisation has no upload keys: precompiled packages cannot be verified",
                           code="no_upload_keys")
    publics = [load_ed25519_public(k.encode()) for k in upload_keys]
    anchor = SigningKey.generate()  # signs the throwaway key set; its private half is discarded
    with tempfile.TemporaryDirectory(prefix="mb-upload-trust-") as tmp:
        trust = TrustStore.create(Path(tmp), make_keyset([*publics, anchor], signers=[anchor]))
        try:
            return verify_and_unpack(data, trust=trust, dest=dest, app_id=app_id)
        except PackageError as e:
            raise InvalidInput(f"package rejected: {e}", code="package_rejected") from e


def build_host_package(bundle_dir: Path, *, app_id: str, version: str, build: int, signer: Any, host_id: str,
                       host_public_key: bytes) -> bytes:
    from minibox.package import pack

    return pack(bundle_dir, app_id=app_id, version=version, build=build, signer=signer,  # type: ignore[no-any-return]
                recipients={host_id: host_public_key})
