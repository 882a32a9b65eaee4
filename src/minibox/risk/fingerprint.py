"""A device fingerprint: stable for one device (a secret made once in the host's data directory,
with the device's model and platform), keyed by the host's master key, never sent to a mini-program."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

DEVICE_SECRET_FILE = "device.secret"


def _device_secret(data_dir: Path) -> bytes:
    path = data_dir / DEVICE_SECRET_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    return path.read_bytes()


def device_fingerprint(data_dir: Path, master_key: bytes, system: dict[str, Any]) -> str:
    """32 hex characters; the same on every call for one data directory and device."""
    parts = [_device_secret(data_dir), str(system.get("model", "")).encode(), str(system.get("platform", "")).encode()]
    return hmac.new(master_key, b"minibox device\0" + b"\0".join(parts), hashlib.sha256).hexdigest()[:32]
