"""Content-addressed blob storage for packages and bundles.

`BlobStore` is the interface; `LocalBlobStore` keeps blobs as files named by their SHA-256,
`S3BlobStore` as objects of an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...) named the same way.
`put` is idempotent (keys are hashes), reads take a byte range. `open_blob_store(settings)` picks one by
`Settings.blobs_url` (`MINIBOX_BLOBS`): empty for `<data dir>/blobs`, a path, or `s3://bucket/prefix`.

Errors are the platform's JSON errors: a missing blob is `404 blob_missing`, a full disk `507
storage_full`, an unreachable or refusing store `503 blob_store_unavailable`. A failed put leaves
nothing behind (a temp file is removed; an S3 object appears whole or not at all).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from minibox.platform.errors import PlatformError

if TYPE_CHECKING:
    from minibox.platform.settings import Settings

log = logging.getLogger("minibox.platform.blobs")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: errno values that mean "no space left" (a full disk, or a quota).
_FULL = {errno.ENOSPC, errno.EDQUOT}


class BlobNotFound(PlatformError, KeyError):
    """No blob with this hash (answered `404 blob_missing` unless a route says better)."""

    status = 404
    code = "blob_missing"

    def __init__(self, sha256: str):
        super().__init__(f"blob {sha256[:64]} is not in the blob store", details={"sha256": sha256[:64]})
        self.sha256 = sha256

    def __str__(self) -> str:
        return self.message


class BlobStoreFull(PlatformError):
    """The blob store has no room: nothing was stored."""

    status = 507
    code = "storage_full"


class BlobStoreUnavailable(PlatformError):
    """The blob store cannot be reached or refused the request (retry later)."""

    status = 503
    code = "blob_store_unavailable"


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data`, return its SHA-256 hex digest."""

    def get(self, sha256: str) -> bytes: ...

    def size(self, sha256: str) -> int: ...

    def read_range(self, sha256: str, start: int, end: int) -> bytes:
        """Bytes `start..end` inclusive."""


def check_sha256(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise BlobNotFound(sha256)
    return sha256


class LocalBlobStore:
    """Blobs in `root/ab/abcdef...`, written atomically (temp file + rename)."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError as e:
            raise _os_error(e) from e
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # acknowledged means on disk, even if the machine dies next
            os.replace(tmp, path)
        except BaseException as e:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise _os_error(e) from e
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError as e:
            raise BlobNotFound(sha256) from e

    def size(self, sha256: str) -> int:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError as e:
            raise BlobNotFound(sha256) from e

    def read_range(self, sha256: str, start: int, end: int) -> bytes:
        try:
            with self._path(sha256).open("rb") as f:
                f.seek(start)
                return f.read(end - start + 1)
        except FileNotFoundError as e:
            raise BlobNotFound(sha256) from e


def _os_error(e: OSError) -> PlatformError | OSError:
    if e.errno in _FULL:
        log.error("blob store full: %s", e)
        return BlobStoreFull("the blob store is full: nothing was stored; free space and retry")
    return e


class S3BlobStore:
    """Blobs as objects `prefix + ab/abcdef...` of an S3-compatible bucket, through boto3.

    `put` sends the object with its SHA-256 checksum, which the server verifies before it stores the
    object (S3 writes are atomic: a failed or interrupted put leaves no object). Range reads are S3
    ranged GETs. Credentials come from boto3's usual chain (`AWS_ACCESS_KEY_ID` /
    `AWS_SECRET_ACCESS_KEY`, a profile, an instance role); `endpoint_url` points at a non-AWS server.
    """

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None, connect_timeout_s: float = 5,
                 read_timeout_s: float = 60, max_attempts: int = 3):
        if not bucket:
            raise ValueError("S3 blob store needs a bucket (s3://bucket/prefix)")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=connect_timeout_s, read_timeout=read_timeout_s,
                            retries={"max_attempts": max_attempts, "mode": "standard"},
                            # path-style addressing works with every S3-compatible server
                            s3={"addressing_style": "path"} if endpoint_url else None,
                            # checksums only where asked for (we send SHA-256 ourselves)
                            request_checksum_calculation="when_required",
                            response_checksum_validation="when_required")
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url or None,
                                                    region_name=region or None, config=config)
        self.client = client

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    def _fail(self, e: Exception, sha256: str, what: str) -> PlatformError:
        from botocore.exceptions import ClientError

        if isinstance(e, ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound") or (status == 404 and code != "NoSuchBucket"):
                return BlobNotFound(sha256)
            if code == "NoSuchBucket":
                log.error("S3 blob store: bucket %r does not exist", self.bucket)
                return BlobStoreUnavailable(f"the blob store's bucket {self.bucket!r} does not exist",
                                            details={"store": "s3", "bucket": self.bucket, "error": code})
            if code in ("EntityTooLarge", "QuotaExceeded", "XMinioStorageFull"):
                return BlobStoreFull(f"the S3 blob store refused to store it ({code}): nothing was stored")
            log.warning("S3 blob store %s: %s of %s failed: %s %s", self.url, what, sha256, code, err.get("Message"))
            return BlobStoreUnavailable(f"the blob store refused the {what} ({code or status}); retry shortly",
                                        details={"store": "s3", "bucket": self.bucket, "error": code})
        log.warning("S3 blob store %s: %s of %s failed: %s", self.url, what, sha256, e)
        return BlobStoreUnavailable(f"the blob store is unreachable ({type(e).__name__}); retry shortly",
                                    details={"store": "s3", "bucket": self.bucket})

    def _call(self, what: str, sha256: str, fn: Any, **kw: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, Key=self._key(sha256), **kw)
        except (ClientError, BotoCoreError) as e:
            raise self._fail(e, sha256, what) from e

    def put(self, data: bytes) -> str:
        raw = hashlib.sha256(data).digest()
        digest = raw.hex()
        try:
            self._call("head", digest, self.client.head_object)
            return digest  # content-addressed: already there means the same bytes
        except BlobNotFound:
            pass
        self._call("put", digest, self.client.put_object, Body=data, ContentLength=len(data),
                   ChecksumSHA256=base64.b64encode(raw).decode(), ContentType="application/octet-stream")
        return digest

    def get(self, sha256: str) -> bytes:
        from botocore.exceptions import BotoCoreError

        obj = self._call("get", sha256, self.client.get_object)
        try:
            return bytes(obj["Body"].read())
        except BotoCoreError as e:
            raise self._fail(e, sha256, "get") from e

    def size(self, sha256: str) -> int:
        return int(self._call("head", sha256, self.client.head_object)["ContentLength"])

    def read_range(self, sha256: str, start: int, end: int) -> bytes:
        from botocore.exceptions import BotoCoreError

        obj = self._call("get", sha256, self.client.get_object, Range=f"bytes={start}-{end}")
        try:
            return bytes(obj["Body"].read())
        except BotoCoreError as e:
            raise self._fail(e, sha256, "get") from e

    def check(self) -> None:
        """Raise `BlobStoreUnavailable` unless the bucket can be reached."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as e:
            raise BlobStoreUnavailable(f"S3 bucket {self.bucket!r} cannot be reached: {e}") from e


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


def open_blob_store(settings: Settings) -> LocalBlobStore | S3BlobStore:
    """The blob store `settings` name: `s3://bucket/prefix`, a directory, or `<data dir>/blobs`."""
    url = settings.blobs_url.strip()
    if url.startswith("s3://"):
        bucket, prefix = parse_s3_url(url)
        return S3BlobStore(bucket, prefix, endpoint_url=settings.s3_endpoint_url or None,
                           region=settings.s3_region or None)
    if url:
        return LocalBlobStore(Path(url.removeprefix("file://")))
    return LocalBlobStore(settings.blob_dir)
