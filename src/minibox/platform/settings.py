"""Settings of the management platform: one object, read once, never from globals."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Environment variables that configure `minibox server`.
ENV_DATABASE_URL = "MINIBOX_DATABASE_URL"
ENV_DATA_DIR = "MINIBOX_DATA_DIR"
#: "0" turns off the session cookie's Secure flag (set by `minibox server --insecure-cookies` for workers).
ENV_SECURE_COOKIES = "MINIBOX_SECURE_COOKIES"


@dataclass(frozen=True)
class Settings:
    """Where the platform keeps its state. Replicas share `database_url` and `data_dir` (or a blob store)."""

    data_dir: Path
    database_url: str
    #: Set the `Secure` flag on the session cookie (turn off only for plain-HTTP loopback demos).
    secure_cookies: bool = True
    #: The release cache's watcher reads the release generation this often (PostgreSQL also wakes on NOTIFY).
    release_poll_ms: int = 25
    #: A replica signs update answers only within this long of its last generation read; a write that
    #: changes releases returns this long (plus a margin) after its commit, so no replica signs a stale one.
    release_lease_ms: int = 150

    @classmethod
    def for_data_dir(cls, data_dir: Path, database_url: str | None = None, *, secure_cookies: bool = True) -> Settings:
        data_dir = data_dir.resolve()
        url = database_url or f"sqlite:///{data_dir / 'minibox.db'}"
        return cls(data_dir=data_dir, database_url=url, secure_cookies=secure_cookies)

    @classmethod
    def from_env(cls) -> Settings:
        return cls.for_data_dir(Path(os.environ.get(ENV_DATA_DIR, "minibox-data")), os.environ.get(ENV_DATABASE_URL),
                                secure_cookies=os.environ.get(ENV_SECURE_COOKIES, "1") != "0")

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"
