"""Blob stores (issue 12): the S3-compatible store against a real S3 server on 127.0.0.1 (moto's
ThreadedMotoServer speaking the S3 REST API over HTTP), and the whole platform on it: upload, update
check, package download with Range, and the container's verification of what it downloaded."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from minibox.host.update import Updater
from minibox.package import HostKeyPair, TrustStore
from minibox.platform.api import create_app
from minibox.platform.blobs import (
    BlobNotFound,
    BlobStoreUnavailable,
    LocalBlobStore,
    S3BlobStore,
    open_blob_store,
)
from minibox.platform.serve import BackgroundServer, free_port
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings

from .conftest import auth, project_zip, seed_tenant, sessions_for

CRED_ENV = {"AWS_ACCESS_KEY_ID": "minibox-test", "AWS_SECRET_ACCESS_KEY": "minibox-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3:
    endpoint: str

    def store(self, bucket: str, prefix: str = "", **kw: object) -> S3BlobStore:
        return S3BlobStore(bucket, prefix, endpoint_url=self.endpoint, region="us-east-1", **kw)  # type: ignore[arg-type]

    def bucket(self) -> str:
        name = f"mb-{uuid.uuid4().hex[:12]}"
        self.store(name).client.create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in CRED_ENV}
    os.environ.update(CRED_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3(f"http://{host}:{port}")
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_put_get_size_range_and_idempotent_put(s3: S3) -> None:
    bucket = s3.bucket()
    store = s3.store(bucket, "pkgs/")
    data = os.urandom(100_000)
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.put(data) == sha  # idempotent: same key, one object
    keys = [o["Key"] for o in store.client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"pkgs/{sha[:2]}/{sha}"]
    assert store.get(sha) == data
    assert store.size(sha) == len(data)
    assert store.read_range(sha, 0, 0) == data[:1]
    assert store.read_range(sha, 1000, 1999) == data[1000:2000]
    assert store.read_range(sha, len(data) - 10, len(data) - 1) == data[-10:]
    assert store.put(b"") == hashlib.sha256(b"").hexdigest() and store.get(hashlib.sha256(b"").hexdigest()) == b""


def test_missing_object_bucket_and_server_are_clear_errors(s3: S3) -> None:
    store = s3.store(s3.bucket())
    missing = "0" * 64
    for call in (lambda: store.get(missing), lambda: store.size(missing), lambda: store.read_range(missing, 0, 9)):
        with pytest.raises(BlobNotFound) as e:
            call()
        assert (e.value.status, e.value.code) == (404, "blob_missing") and missing in e.value.message
    with pytest.raises(BlobNotFound):
        store.get("../../etc/passwd")  # never a key outside the hash layout
    with pytest.raises(BlobStoreUnavailable) as no_bucket:
        s3.store("no-such-bucket-here").put(b"x")
    assert no_bucket.value.status == 503 and "no-such-bucket-here" in no_bucket.value.message
    down = S3BlobStore("b-down", endpoint_url=f"http://127.0.0.1:{free_port()}", region="us-east-1",
                       max_attempts=1, connect_timeout_s=1)
    with pytest.raises(BlobStoreUnavailable) as unreachable:
        down.get("1" * 64)
    assert unreachable.value.code == "blob_store_unavailable" and "unreachable" in unreachable.value.message


def test_store_is_chosen_by_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3: S3) -> None:
    assert isinstance(open_blob_store(Settings.for_data_dir(tmp_path, blobs_url="")), LocalBlobStore)
    local = open_blob_store(Settings.for_data_dir(tmp_path, blobs_url=str(tmp_path / "elsewhere")))
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "elsewhere"
    monkeypatch.setenv("MINIBOX_BLOBS", "s3://my-bucket/some/prefix")
    monkeypatch.setenv("MINIBOX_S3_ENDPOINT_URL", s3.endpoint)
    remote = open_blob_store(Settings.from_env())
    assert isinstance(remote, S3BlobStore)
    assert (remote.bucket, remote.prefix, remote.url) == ("my-bucket", "some/prefix/", "s3://my-bucket/some/prefix/")
    assert remote.client.meta.endpoint_url == s3.endpoint


def test_platform_on_s3_upload_download_range_update_and_verify(s3: S3, tmp_path: Path) -> None:
    """Upload (compiled on the server, stored in S3), update check, full and ranged download, the
    container's signature and hash verification, then a package object gone from S3: a clear 404."""
    bucket = s3.bucket()
    settings = dataclasses.replace(Settings.for_data_dir(tmp_path / "data", secure_cookies=False),
                                   blobs_url=f"s3://{bucket}/minibox", s3_endpoint_url=s3.endpoint)
    plat = open_platform(settings)
    try:
        assert isinstance(plat.blobs, S3BlobStore)
        tenant = sessions_for(plat, seed_tenant(plat, "Bank"))
        with BackgroundServer(create_app(plat)) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
            def op(method: str, path: str, role: str, **kw: object) -> httpx.Response:
                r = c.request(method, path, headers=auth(tenant, role), **kw)  # type: ignore[arg-type]
                assert r.status_code < 300, r.text
                return r

            host = op("POST", "/api/v1/hosts", "admin", json={"name": "Mobile banking"}).json()
            op("POST", "/api/v1/apps", "admin", json={"app_id": "wallet", "name": "Wallet"})
            op("POST", "/api/v1/apps/wallet/members", "admin", json={"user_id": tenant.users["developer"].user_id})
            op("POST", f"/api/v1/hosts/{host['host_id']}/apps", "admin", json={"app_id": "wallet"})
            op("POST", "/api/v1/apps/wallet/versions", "developer", data={"version": "1.0.0", "kind": "source"},
               files={"file": ("src.zip", project_zip(tmp_path, title="on s3"), "application/zip")})
            op("POST", "/api/v1/apps/wallet/versions/1.0.0/submit", "developer", json={})
            op("POST", "/api/v1/apps/wallet/versions/1.0.0/approve", "reviewer", json={})
            op("POST", "/api/v1/apps/wallet/releases", "operator", json={"version": "1.0.0"})

            h = {"X-Minibox-Host-Key": host["api_key"]}
            u = c.get(f"/api/v1/hosts/{host['host_id']}/apps/wallet/update", params={"user_id": "u1"}, headers=h)
            assert u.status_code == 200, u.text
            pkg = u.json()["package"]
            full = c.get(pkg["url"], headers=h)
            assert full.status_code == 200 and hashlib.sha256(full.content).hexdigest() == pkg["sha256"]
            part = c.get(pkg["url"], headers={**h, "Range": "bytes=10-99"})
            assert part.status_code == 206 and part.content == full.content[10:100]
            assert part.headers["content-range"] == f"bytes 10-99/{len(full.content)}"
            tail = c.get(pkg["url"], headers={**h, "Range": "bytes=-16"})
            assert tail.status_code == 206 and tail.content == full.content[-16:]

            # everything is in the bucket, nothing in the data dir's blobs/
            keys = {o["Key"] for o in plat.blobs.client.list_objects_v2(Bucket=bucket)["Contents"]}
            assert f"minibox/{pkg['sha256'][:2]}/{pkg['sha256']}" in keys and len(keys) >= 3  # source, bundle, sbom, pkg
            assert not (settings.blob_dir.exists() and any(settings.blob_dir.rglob("*")))

            # the container checks, downloads, verifies the signature chain and decrypts
            trust = TrustStore.create(tmp_path / "trust", c.get("/api/v1/trust/keyset").content)
            key = HostKeyPair.from_private_pem(host["private_key_pem"].encode())
            with Updater(srv.url, host["host_id"], host["api_key"], trust, tmp_path / "cache", key) as updater:
                verified = updater.update("wallet", "u1")
            assert (verified.app_id, verified.version) == ("wallet", "1.0.0")
            assert (verified.path / "app.json").is_file() or any(verified.path.iterdir())

            # the package object disappears from the bucket: a clear JSON 404, not a 500
            plat.blobs.client.delete_object(Bucket=bucket, Key=f"minibox/{pkg['sha256'][:2]}/{pkg['sha256']}")
            gone = c.get(pkg["url"], headers=h)
            assert gone.status_code == 404 and gone.json()["code"] == "no_package", gone.text
    finally:
        plat.db.dispose()
