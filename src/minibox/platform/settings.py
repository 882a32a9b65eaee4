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
#: Blob store: empty for `<data dir>/blobs`, a directory, or `s3://bucket/prefix` (see `blobs.py`).
ENV_BLOBS = "MINIBOX_BLOBS"
#: S3-compatible endpoint (MinIO, Ceph, ...) and region; credentials come from boto3's usual chain
#: (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, a profile or an instance role).
ENV_S3_ENDPOINT_URL = "MINIBOX_S3_ENDPOINT_URL"
ENV_S3_REGION = "MINIBOX_S3_REGION"
#: Optional Redis (`redis://host:6379/0`): shared login throttling and release invalidation pub/sub.
ENV_REDIS_URL = "MINIBOX_REDIS_URL"
#: Webhook that receives platform notifications (a guarded rollout stopped), signed with HMAC-SHA256 of
#: the body under the secret (`X-Minibox-Signature: sha256=<hex>`).
ENV_WEBHOOK_URL = "MINIBOX_WEBHOOK_URL"
ENV_WEBHOOK_SECRET = "MINIBOX_WEBHOOK_SECRET"
#: Seconds between two evaluations of the guards of active grayscale releases.
ENV_GUARD_INTERVAL_S = "MINIBOX_GUARD_INTERVAL_S"


def _seconds(raw: str | None, default: float) -> float:
    try:
        return max(0.05, float(raw)) if raw else default
    except ValueError:
        return default


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
    #: Where blobs live: "" (the data dir's `blobs/`), a directory, or `s3://bucket/prefix`.
    blobs_url: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    #: Optional Redis URL; without it (or while it is down) everything runs on the database alone.
    redis_url: str = ""
    #: Notifications webhook and its HMAC secret (both needed; empty: no notifications).
    webhook_url: str = ""
    webhook_secret: str = ""
    #: How often each replica's guard evaluator looks at the active guarded grayscale releases.
    guard_interval_s: float = 60.0

    @classmethod
    def for_data_dir(cls, data_dir: Path, database_url: str | None = None, *, secure_cookies: bool = True,
                     blobs_url: str | None = None, redis_url: str | None = None) -> Settings:
        """Settings for a data dir; blob store, S3 endpoint and Redis default to the environment."""
        data_dir = data_dir.resolve()
        url = database_url or f"sqlite:///{data_dir / 'minibox.db'}"
        env = os.environ
        return cls(data_dir=data_dir, database_url=url, secure_cookies=secure_cookies,
                   blobs_url=env.get(ENV_BLOBS, "") if blobs_url is None else blobs_url,
                   s3_endpoint_url=env.get(ENV_S3_ENDPOINT_URL, ""), s3_region=env.get(ENV_S3_REGION, ""),
                   redis_url=env.get(ENV_REDIS_URL, "") if redis_url is None else redis_url,
                   webhook_url=env.get(ENV_WEBHOOK_URL, ""), webhook_secret=env.get(ENV_WEBHOOK_SECRET, ""),
                   guard_interval_s=_seconds(env.get(ENV_GUARD_INTERVAL_S), 60.0))

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
