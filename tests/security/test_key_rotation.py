"""Rotation of the keys at rest (issue 14): storage rows and files re-encrypted to a new key version
without losing data and while the host serves; an interrupted rotation (exception, SIGKILL)
resumes; old versions are retired only when nothing is sealed under them. Real SQLite, real files,
real sandboxed mini-programs."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from minibox.host import Host, HostConfig
from minibox.host.host import KEYRING_FILE, KeyRotationError
from minibox.policy import AppGrants
from minibox.policy.files import MAGIC, SEAL_OVERHEAD, FileService
from minibox.policy.keys import KeyRing, KeyRingFile, derive_key, encode_parts, name_digest
from minibox.policy.storage import Owner, StorageCorrupted, StorageService
from minibox.testing import launch

K1 = b"1" * 32
OA = Owner("bank-host", "wxrot0000000000000", "alice")
O2 = Owner("bank-host", "wxrot0000000000001", "bob")
FS = "FileSystemManager."
U = "wxfile://usr"
REPO = Path(__file__).resolve().parents[2]


def usage(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT * FROM kv_usage ORDER BY host, app, user").fetchall()


def kvers(db: Path) -> set[int]:
    with sqlite3.connect(db) as c:
        return {r[0] for r in c.execute("SELECT kver FROM kv")}


def fill_storage(s: StorageService, n: int = 300) -> dict[tuple[Owner, str], object]:
    data: dict[tuple[Owner, str], object] = {}
    for o in (OA, O2):
        for i in range(n):
            key = f"k{i}" if i % 7 else f"ключ-{i}-\ud800"  # unicode and a lone surrogate
            data[(o, key)] = {"i": i, "v": "x" * (i % 50), "o": o.user}
            s.set(o, key, data[(o, key)])
    return data


def check_storage(s: StorageService, data: dict[tuple[Owner, str], object]) -> None:
    for (o, key), value in data.items():
        assert s.get(o, key) == value


# -- the key ring --------------------------------------------------------------------------------
def test_keyring_file_is_private_atomic_and_keeps_versions(tmp_path: Path) -> None:
    path = tmp_path / KEYRING_FILE
    ring = KeyRingFile(path, K1)
    assert ring.versions() == (1,) and not path.exists()  # version 1 is the master key, never copied
    v2 = ring.add()
    assert v2 == 2 and ring.current == 2 and path.stat().st_mode & 0o777 == 0o600
    doc = json.loads(path.read_text())
    assert doc["current"] == 2 and set(doc["keys"]) == {"2"}
    assert base64.b64encode(K1).decode() not in path.read_text()
    again = KeyRingFile(path, K1)
    assert again.versions() == (2, 1) and again.key(2) == ring.key(2)
    assert [p.name for p in tmp_path.iterdir()] == [KEYRING_FILE]  # no temp file left behind
    with pytest.raises(ValueError):
        KeyRing({1: K1, 2: b"2" * 32}, current=1)  # current is always the newest


# -- storage -------------------------------------------------------------------------------------
def test_storage_rotation_keeps_data_and_usage_exact(tmp_path: Path) -> None:
    ring = KeyRing.single(K1)
    s = StorageService(tmp_path / "s.db", ring)
    data = fill_storage(s)
    sums = {o: s.checksum(o) for o in (OA, O2)}
    used_before = usage(tmp_path / "s.db")
    ring.add()
    assert s.pending() == len(data)
    # old rows read at any time; a write of an old key replaces its row (no double counting)
    check_storage(s, data)
    s.set(OA, "k1", {"new": True})
    data[(OA, "k1")] = {"new": True}
    s.remove(OA, "k2")
    del data[(OA, "k2")]
    s.set(OA, "k2", "back")
    data[(OA, "k2")] = "back"
    with sqlite3.connect(tmp_path / "s.db") as c:
        assert c.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == len(data)
    expected_usage = usage(tmp_path / "s.db")
    info_before = {o: s.info(o) for o in (OA, O2)}
    total = 0
    while n := s.rotate(batch=64):
        total += n
        check_storage(s, data)  # every batch leaves everything readable
    assert s.pending() == 0 and kvers(tmp_path / "s.db") == {2}
    assert total == len(data) - 2
    check_storage(s, data)
    assert usage(tmp_path / "s.db") == expected_usage
    assert {o: s.info(o) for o in (OA, O2)} == info_before  # same keys, same order (seq), same size
    assert s.checksum(O2) == sums[O2]
    # rotation moved no byte of accounting: exactly what the writes made it
    assert [r[3:] for r in used_before if r[2] == "bob"] == [r[3:] for r in expected_usage if r[2] == "bob"]
    s.close()
    # a fresh service (a restart) with the retired ring still reads it all
    ring.retire()
    s2 = StorageService(tmp_path / "s.db", KeyRing({2: ring.key(2)}))
    check_storage(s2, data)
    s2.close()


def test_database_from_before_versions_migrates_in_place(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    s = StorageService(db, K1)
    s.set(OA, "a", [1, 2])
    s.close()
    with sqlite3.connect(db) as c:  # as written before the kver column existed
        c.execute("DROP INDEX kv_kver")
        c.execute("ALTER TABLE kv DROP COLUMN kver")
    ring = KeyRing.single(K1)
    s = StorageService(db, ring)
    assert s.get(OA, "a") == [1, 2] and kvers(db) == {1}
    ring.add()
    assert s.rotate() == 1 and s.pending() == 0 and s.get(OA, "a") == [1, 2]
    s.close()


def test_storage_rotation_interrupted_by_an_exception_resumes(tmp_path: Path) -> None:
    ring = KeyRing.single(K1)
    s = StorageService(tmp_path / "s.db", ring)
    data = fill_storage(s, 100)
    expected_usage = usage(tmp_path / "s.db")
    ring.add()
    calls = {"n": 0}

    def boom() -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut inside the third batch")

    s._between_rows = boom  # type: ignore[method-assign]
    done = 0
    with pytest.raises(RuntimeError):
        while n := s.rotate(batch=25):
            done += n
    assert done == 50 and s.pending() == len(data) - 50  # the third batch rolled back whole
    check_storage(s, data)
    s._between_rows = lambda: None  # type: ignore[method-assign]
    while s.rotate(batch=25):
        pass
    assert s.pending() == 0 and kvers(tmp_path / "s.db") == {2}
    check_storage(s, data)
    assert usage(tmp_path / "s.db") == expected_usage
    s.close()


def test_a_tampered_row_is_skipped_and_blocks_retirement_only(tmp_path: Path) -> None:
    ring = KeyRing.single(K1)
    s = StorageService(tmp_path / "s.db", ring)
    data = fill_storage(s, 30)
    with sqlite3.connect(tmp_path / "s.db") as c:  # flip a bit of one value on disk
        kid, value = c.execute("SELECT kid, value FROM kv WHERE user='alice' LIMIT 1").fetchone()
        c.execute("UPDATE kv SET value=? WHERE kid=?", (bytes([value[0] ^ 1]) + value[1:], kid))
    ring.add()
    while s.rotate(batch=7):
        pass
    assert s.pending() == 1 and s.unrotatable() == 1  # still there, still unreadable, still counted
    readable = 0
    for (o, key), value in data.items():
        try:
            assert s.get(o, key) == value
            readable += 1
        except StorageCorrupted:
            pass
    assert readable == len(data) - 1
    s.close()


def test_reads_and_writes_keep_working_during_rotation(tmp_path: Path) -> None:
    ring = KeyRing.single(K1)
    rotator = StorageService(tmp_path / "s.db", ring)
    app = StorageService(tmp_path / "s.db", ring)  # an instance's own service, as make_services builds
    data = fill_storage(rotator, 400)
    ring.add()
    errors: list[BaseException] = []
    stop = threading.Event()
    written: dict[str, int] = {}
    bob = [k for (o, k) in data if o == O2]

    def hammer() -> None:
        i = 0
        try:
            while not stop.is_set():
                key = f"k{i % 300}"
                app.set(OA, key, i)
                written[key] = i
                assert app.get(OA, key) == i
                assert app.get(O2, bob[i % len(bob)]) == data[(O2, bob[i % len(bob)])]
                i += 1
        except BaseException as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=hammer)
    t.start()
    try:
        while len(written) < 5 and not errors:
            time.sleep(0.001)
        before = len(written)
        batches = 0
        while rotator.rotate(batch=20):
            batches += 1
            time.sleep(0.002)
        during = len(written) - before
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert batches >= 10 and during > 0, (batches, during)  # the writer ran while rotation ran
    while rotator.rotate(batch=100):  # writes that raced the first pass went in on version 2 anyway
        pass
    assert rotator.pending() == 0
    for key, value in written.items():
        assert rotator.get(OA, key) == value
    check_storage(rotator, {k: v for k, v in data.items() if k[0] == O2})
    # exact accounting: recomputed from the rows, it is what kv_usage says
    with sqlite3.connect(tmp_path / "s.db") as c:
        rows = dict(((r[0], r[1]), r[2:]) for r in c.execute(
            "SELECT app, user, COALESCE(SUM(size),0), COUNT(*) FROM kv GROUP BY app, user"))
        kept = dict(((r[0], r[1]), r[2:]) for r in c.execute("SELECT app, user, used, keys FROM kv_usage"))
    assert rows == kept
    rotator.close()
    app.close()


# -- files ---------------------------------------------------------------------------------------
def legacy_file(o: Owner, data: bytes, key: bytes = K1, nonce: bytes | None = None) -> bytes:
    """A file as sealed before key versions existed: nonce || ciphertext || tag, no header."""
    nonce = nonce or os.urandom(12)
    k = derive_key(key, "files", o.host, o.app, o.user)
    return nonce + AESGCM(k).encrypt(nonce, data, encode_parts("file", o.host, o.app, o.user))


def fill_files(fs: FileService) -> dict[tuple[Owner, str], bytes]:
    out = {}
    for o in (OA, O2):
        fs.mkdir(o, f"{U}/a/b", recursive=True)
        for i in range(12):
            path = f"{U}/a/b/f{i}.bin" if i % 2 else f"{U}/n{i}.txt"
            out[(o, path)] = os.urandom(i * 100) + o.user.encode()
            fs.write_file(o, path, out[(o, path)])
        tmp = fs.create_temp(o, b"temp " + o.user.encode(), ".png")
        out[(o, tmp)] = b"temp " + o.user.encode()
    return out


def check_files(fs: FileService, files: dict[tuple[Owner, str], bytes]) -> None:
    for (o, path), data in files.items():
        assert fs.read_file(o, path) == data
        assert fs.stat(o, path).size == len(data)


def test_file_rotation_renames_dirs_reseals_files_keeps_times(tmp_path: Path) -> None:
    ring = KeyRing.single(K1)
    fs = FileService(tmp_path / "files", ring)
    files = fill_files(fs)
    # a file from before versions (no header), and one whose legacy nonce begins with the magic
    usr = fs.owner_dir(OA) / "usr"
    (usr / "legacy.txt").write_bytes(legacy_file(OA, b"old format"))
    (usr / "magic.txt").write_bytes(legacy_file(OA, b"unlucky nonce", nonce=MAGIC + b"\x02" + os.urandom(8)))
    files[(OA, f"{U}/legacy.txt")] = b"old format"
    files[(OA, f"{U}/magic.txt")] = b"unlucky nonce"
    old = time.time() - 40 * 86400
    os.utime(usr / "legacy.txt", (old, old))
    check_files(fs, {k: v for k, v in files.items() if not k[1].endswith("magic.txt")})
    old_dirs = {o: fs.owner_dir(o).name for o in (OA, O2)}
    ring.add()
    # before any re-encryption: everything reads, directories are found under their old names
    check_files(fs, {k: v for k, v in files.items() if not k[1].endswith("magic.txt")})
    other = FileService(tmp_path / "files", ring)  # a second service sees the same
    assert other.read_file(OA, f"{U}/magic.txt") == b"unlucky nonce"
    assert other.pending() > 0
    total = 0
    while n := fs.rotate(batch=5):
        total += n
    # the first use after the rotation renamed both directories; 27 files re-sealed: the legacy file
    # whose nonce looks like a version-2 header looks current until opened
    assert fs.pending() == 0 and total == len(files) - 1
    assert fs.rotate(verify=True) == 1 and fs.rotate(verify=True) == 0  # what retire_old_keys runs
    check_files(other, files)
    ring.retire()
    check_files(FileService(tmp_path / "files", KeyRing({2: ring.key(2)})), files)
    for o in (OA, O2):
        d = fs.owner_dir(o)
        assert d.name != old_dirs[o] and not (tmp_path / "files" / old_dirs[o]).exists()
        for p in d.rglob("*"):
            if p.is_file():
                assert p.read_bytes()[:4] == MAGIC + b"\x02"
    assert int((fs.owner_dir(OA) / "usr" / "legacy.txt").stat().st_mtime) == int(old)
    assert fs.saved_files(OA) == [] and fs.stat(OA, f"{U}/legacy.txt").size == len(b"old format")
    assert SEAL_OVERHEAD == 32


def test_directory_without_owner_record_is_found_through_known_owners(tmp_path: Path) -> None:
    # a host from before owner records: the directory is the v1 digest, holding v1 files
    root = tmp_path / "files"
    d = root / name_digest(derive_key(K1, "file-dirs"), OA.host, OA.app, OA.user)[:40]
    for a in ("usr", "store", "tmp"):
        (d / a).mkdir(parents=True)
    (d / "usr" / "x.txt").write_bytes(legacy_file(OA, b"from long ago"))
    ring = KeyRingFile(tmp_path / KEYRING_FILE, K1)
    ring.add()
    fs = FileService(root, ring)
    assert fs.pending() == 2  # the directory (nobody knows whose) and its file
    assert fs.rotate(10) == 0  # cannot tell whose it is
    assert fs.rotate(10, owners=[OA]) == 2 and fs.pending() == 0
    assert fs.read_file(OA, f"{U}/x.txt") == b"from long ago"


def test_file_writes_during_rotation_are_never_lost(tmp_path: Path) -> None:
    ring = KeyRing.single(K1)
    rotator = FileService(tmp_path / "files", ring)
    app = FileService(tmp_path / "files", ring)
    for i in range(40):
        app.write_file(OA, f"{U}/f{i}", b"v0")
    ring.add()
    errors: list[BaseException] = []
    last: dict[str, bytes] = {}
    stop = threading.Event()

    def hammer() -> None:
        i = 0
        try:
            while not stop.is_set():
                path = f"{U}/f{i % 40}"
                value = f"v{i}".encode()
                app.write_file(OA, path, value)
                last[path] = value
                assert app.read_file(OA, path) == value
                if i % 5 == 0:
                    app.write_file(OA, path, b"+", append=True)
                    last[path] = value + b"+"
                i += 1
        except BaseException as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=hammer)
    t.start()
    try:
        deadline = time.time() + 20
        while (rotator.rotate(batch=2) or rotator.pending()) and time.time() < deadline:
            time.sleep(0.001)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    while rotator.rotate(batch=50):
        pass
    assert rotator.pending() == 0
    for path, value in last.items():
        assert rotator.read_file(OA, path) == value


def test_file_rotation_interrupted_by_an_exception_resumes(tmp_path: Path) -> None:
    ring = KeyRing.single(K1)
    fs = FileService(tmp_path / "files", ring)
    files = fill_files(fs)
    ring.add()
    real = fs._reseal
    calls = {"n": 0}

    def flaky(*a: object) -> bool:
        calls["n"] += 1
        if calls["n"] == 7:
            raise OSError("disk went away")
        return real(*a)  # type: ignore[arg-type]

    fs._reseal = flaky  # type: ignore[method-assign]
    with pytest.raises(OSError):
        while fs.rotate(batch=3):
            pass
    assert fs.pending() > 0
    check_files(fs, files)
    fresh = FileService(tmp_path / "files", ring)  # as after a restart
    while fresh.rotate(batch=3):
        pass
    assert fresh.pending() == 0 and not list((tmp_path / "files").rglob(".mbtmp-*"))
    check_files(fresh, files)


# -- SIGKILL in the middle ---------------------------------------------------------------------
ROTATOR = """
import sys, time
from minibox.policy.files import FileService
from minibox.policy.keys import KeyRingFile
from minibox.policy.storage import StorageService
root = sys.argv[1]
ring = KeyRingFile(root + '/keyring.json', b'1' * 32)
s = StorageService(root + '/s.db', ring)
fs = FileService(root + '/files', ring)
rows = files = 0
while True:
    rows += s.rotate(batch=10)
    files += fs.rotate(1)
    print(rows, files, flush=True)
    time.sleep(0.01)
"""


def test_rotation_killed_with_sigkill_resumes_without_loss(tmp_path: Path) -> None:
    ring = KeyRingFile(tmp_path / KEYRING_FILE, K1)
    s = StorageService(tmp_path / "s.db", ring)
    fs = FileService(tmp_path / "files", ring)
    data = fill_storage(s, 500)
    files = fill_files(fs)
    expected_usage = usage(tmp_path / "s.db")
    ring.add()
    proc = subprocess.Popen([sys.executable, "-c", ROTATOR, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            rows, nfiles = map(int, line.split())
            if rows >= 200 and nfiles >= 5:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 0 < s.pending() < len(data) and fs.pending() > 0  # killed mid-way
    check_storage(s, data)
    check_files(fs, files)
    # resumed by a new process (here: this one, with the ring as stored)
    ring2 = KeyRingFile(tmp_path / KEYRING_FILE, K1)
    s2 = StorageService(tmp_path / "s.db", ring2)
    fs2 = FileService(tmp_path / "files", ring2)
    while s2.rotate() or fs2.rotate():
        pass
    assert s2.pending() == 0 and fs2.pending() == 0 and kvers(tmp_path / "s.db") == {2}
    check_storage(s2, data)
    check_files(fs2, files)
    assert usage(tmp_path / "s.db") == expected_usage
    for svc in (s, s2):
        svc.close()


# -- the host, with real sandboxed mini-programs ---------------------------------------------------
APP = "wxrotapp000000000"
PAGE = """
Page({
  data: { out: null },
  fill() {
    wx.setStorageSync('card', { pan: '6222 0000 1111 2222', limit: 5000 })
    wx.setStorageSync('greeting', 'héllo')
    const fs = wx.getFileSystemManager()
    fs.mkdirSync(`${wx.env.USER_DATA_PATH}/docs`, true)
    fs.writeFileSync(`${wx.env.USER_DATA_PATH}/docs/statement.txt`, 'balance 1000', 'utf8')
  },
  read() {
    const fs = wx.getFileSystemManager()
    const p = `${wx.env.USER_DATA_PATH}/docs/statement.txt`
    this.setData({ out: { card: wx.getStorageSync('card'), greeting: wx.getStorageSync('greeting'),
      file: fs.readFileSync(p, 'utf8'), size: fs.statSync(p).size,
      keys: wx.getStorageInfoSync().keys } })
  },
})
"""
EXPECTED = {"card": {"pan": "6222 0000 1111 2222", "limit": 5000}, "greeting": "héllo",
            "file": "balance 1000", "size": 12, "keys": ["card", "greeting"]}


def read_back(project: Path, host: Host) -> dict:
    with launch(project, host=host, app_id=APP, user="alice") as mp:
        mp.current_page.call_method("read")
        mp.wait_idle()
        return mp.current_page.data["out"]


def test_host_rotation_end_to_end_retire_and_audit(tmp_path: Path, make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})
    host = Host(HostConfig(data_dir=tmp_path))
    try:
        host.grants[APP] = AppGrants()
        with launch(project, host=host, app_id=APP, user="alice") as mp:
            mp.current_page.call_method("fill")
            mp.wait_idle()
        used = usage(tmp_path / "storage.db")
        v1 = host.keyring.key(1)
        # rotation to version 2, in the background, while the mini-program runs and reads
        with launch(project, host=host, app_id=APP, user="alice") as mp:
            rotation = host.rotate_keys(batch=1)
            mp.current_page.call_method("read")
            mp.wait_idle()
            assert mp.current_page.data["out"] == EXPECTED
            assert rotation.wait(30) and rotation.error is None
        assert host.key_rotation_pending() == {"storage": 0, "files": 0}
        assert read_back(project, host) == EXPECTED
        assert usage(tmp_path / "storage.db") == used
        v2 = host.keyring.key(2)
        # version 3 added but not re-encrypted yet: retiring now is refused
        host.keyring.add()
        with pytest.raises(KeyRotationError, match="old key versions still in use"):
            host.retire_old_keys()
        assert host.keyring.versions() == (3, 2, 1)
        host.resume_key_rotation(background=False)
        assert host.retire_old_keys() == [1, 2]
        assert host.keyring.versions() == (3,)
        ring_text = (tmp_path / KEYRING_FILE).read_text()
        assert base64.b64encode(v2).decode() not in ring_text and base64.b64encode(v1).decode() not in ring_text
        assert json.loads(ring_text)["retired"] == [1, 2]
        assert read_back(project, host) == EXPECTED
        with launch(project, host=host, app_id=APP, user="alice") as mp:  # and writes keep working
            mp.current_page.call_method("fill")
            mp.wait_idle()
        assert kvers(tmp_path / "storage.db") == {3}
    finally:
        host.close()
    # after a restart the retired versions stay retired (version 1 is not taken from master.key)
    host = Host(HostConfig(data_dir=tmp_path))
    try:
        assert host.keyring.versions() == (3,)
        assert read_back(project, host) == EXPECTED
    finally:
        host.close()
    audit = (tmp_path / "audit.jsonl").read_text()
    events = [json.loads(x) for x in audit.splitlines()]
    kinds = [e["event"] for e in events if e["event"].startswith("keys.")]
    assert kinds[0] == "keys.rotate" and "keys.rotate.step" in kinds and "keys.rotate.done" in kinds
    assert "keys.retire.refused" in kinds and kinds[-1] == "keys.retire"
    steps = [e for e in events if e["event"] == "keys.rotate.step"]
    assert sum(e["rows"] for e in steps) >= 2 and sum(e["files"] for e in steps) >= 1
    for key in (v1, v2):
        assert base64.b64encode(key).decode() not in audit and key.hex() not in audit
    assert "6222" not in audit and "balance" not in audit


def test_host_restart_resumes_an_unfinished_rotation(tmp_path: Path) -> None:
    host = Host(HostConfig(data_dir=tmp_path))
    o = Owner(host.config.host_id, APP, "alice")
    for i in range(50):
        host.storage.set(o, f"k{i}", i)
    host.user_data.files.write_file(o, f"{U}/f.txt", b"file")
    host.keyring.add()  # the rotation started, then the host went down before re-encrypting
    host.close()
    host = Host(HostConfig(data_dir=tmp_path))
    try:
        assert host._rotation is not None and host._rotation.wait(30)
        assert host.key_rotation_pending() == {"storage": 0, "files": 0}
        assert [host.storage.get(o, f"k{i}") for i in range(50)] == list(range(50))
        assert host.user_data.files.read_file(o, f"{U}/f.txt") == b"file"
        assert host.retire_old_keys() == [1]
    finally:
        host.close()


class HsmRing(KeyRing):
    """A host's own ring: key bytes from its HSM/KMS, state stored there (here: a list)."""

    def __init__(self, key: bytes) -> None:
        super().__init__({1: key})
        self.stored: list[tuple[int, tuple[int, ...]]] = []

    def _persist(self, keys: dict[int, bytes], current: int, retired: tuple[int, ...]) -> None:
        self.stored.append((current, tuple(sorted(keys))))


def test_host_with_its_own_keyring(tmp_path: Path) -> None:
    ring = HsmRing(b"h" * 32)
    host = Host(HostConfig(data_dir=tmp_path, keyring=ring))
    o = Owner(host.config.host_id, APP, "alice")
    try:
        host.storage.set(o, "k", "v")
        host.user_data.files.write_file(o, f"{U}/f", b"f")
        hsm_key = b"H" * 32
        host.rotate_keys(hsm_key, background=False)
        assert ring.current == 2 and ring.key(2) == hsm_key and ring.stored == [(2, (1, 2))]
        assert host.retire_old_keys() == [1] and ring.stored[-1] == (2, (2,))
        assert host.storage.get(o, "k") == "v" and host.user_data.files.read_file(o, f"{U}/f") == b"f"
        assert not (tmp_path / KEYRING_FILE).exists()  # the host's ring, not the file
    finally:
        host.close()
