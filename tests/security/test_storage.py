"""STO-01..06: storage isolation, quotas, types, encryption at rest, crash consistency."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minibox.policy.storage import Owner, StorageService

from .conftest import HOST, MASTER_KEY

VALUES = ["s", "", 0, -1.5, True, False, None, [1, "a", None], {"a": {"b": [1, 2]}}, "中文🙂",
          {"__type": "Date", "value": "2024-01-01T00:00:00.000Z"}]


@pytest.mark.parametrize("value", VALUES)
def test_roundtrip_json_values(make_instance, value):
    a = make_instance()
    a.call("setStorageSync", {"key": "k", "data": value})
    assert a.call("getStorageSync", {"key": "k"})["data"] == value
    assert a.call("getStorage", {"key": "k"})["errMsg"] == "getStorage:ok"


def test_missing_key_errmsg_async_and_sync(make_instance):
    a = make_instance()
    assert a.fail("getStorage", {"key": "nope"}).err_msg == "getStorage:fail data not found"
    assert a.fail("getStorageSync", {"key": "nope"}).err_msg == "getStorageSync:fail data not found"


def test_info_keys_sizes_and_remove_clear(make_instance):
    a = make_instance()
    a.call("setStorage", {"key": "one", "data": "x" * 2000})
    a.call("setStorage", {"key": "two", "data": 2})
    info = a.call("getStorageInfo")
    assert info["keys"] == ["one", "two"] and info["limitSize"] == 10240
    assert info["currentSize"] == -(-(3 + 2002 + 3 + 1) // 1024)
    a.call("removeStorageSync", {"key": "one"})
    assert a.call("getStorageInfoSync")["keys"] == ["two"]
    a.call("clearStorage")
    assert a.call("getStorageInfo")["keys"] == []


def test_batch_set_and_get(make_instance):
    a = make_instance()
    a.call("batchSetStorageSync", {"kvList": [{"key": "a", "value": 1}, {"key": "b", "value": [2]}]})
    out = a.call("batchGetStorage", {"keyList": ["a", "b", "zz"]})["kvList"]
    assert out == [{"key": "a", "value": 1}, {"key": "b", "value": [2]}, {"key": "zz", "value": ""}]
    assert "kvList[0]" in a.fail("batchSetStorage", {"kvList": [{"key": 1}]}).err_msg


CRAFTED_KEYS = ["token", "wxapp_a:token", "../wxapp_a/token", "token\x00", "TOKEN", "token ",
                "k" * 100_000, "%00token", "wxapp_a/u1/token", "'; DROP TABLE kv;--"]


@pytest.mark.parametrize("key", CRAFTED_KEYS)
def test_sto01_other_app_cannot_read_crafted_keys(make_instance, key):
    a = make_instance("wxapp_a")
    b = make_instance("wxapp_b")
    for k in CRAFTED_KEYS:
        a.call("setStorageSync", {"key": k, "data": f"secret-{len(k)}"})
    before = a.services.storage.checksum(Owner(HOST, "wxapp_a", "u1"))
    assert b.fail("getStorageSync", {"key": key}).err_msg == "getStorageSync:fail data not found"
    b.call("setStorageSync", {"key": key, "data": "b-value"})
    b.call("removeStorageSync", {"key": "token"})
    b.call("clearStorageSync")
    assert b.call("getStorageInfoSync")["keys"] == []
    assert a.services.storage.checksum(Owner(HOST, "wxapp_a", "u1")) == before
    assert a.call("getStorageSync", {"key": key})["data"] == f"secret-{len(key)}"


def test_sto02_users_are_isolated(make_instance):
    u1 = make_instance(user="u1")
    u2 = make_instance(user="u2")
    u1.call("setStorageSync", {"key": "token", "data": "u1"})
    assert u2.fail("getStorageSync", {"key": "token"}).err_msg.endswith("data not found")
    u2.call("clearStorageSync")
    assert u1.call("getStorageSync", {"key": "token"})["data"] == "u1"


def test_sto01_identity_fields_in_args_are_ignored(make_instance):
    a = make_instance("wxapp_a")
    b = make_instance("wxapp_b")
    a.call("setStorageSync", {"key": "t", "data": 1})
    forged = {"key": "t", "appId": "wxapp_a", "app_id": "wxapp_a", "userId": "u1", "host": HOST}
    assert b.fail("getStorageSync", forged).err_msg.endswith("data not found")


def test_sto03_item_limit_boundary(make_instance):
    a = make_instance()
    limit = 1024 * 1024
    body = "x" * (limit - len("k") - 2)  # "k" + '"..."'
    a.call("setStorageSync", {"key": "k", "data": body})
    err = a.fail("setStorageSync", {"key": "k", "data": body + "x"})
    assert err.err_msg == "setStorageSync:fail exceed storage item max length"
    assert a.call("getStorageSync", {"key": "k"})["data"] == body


def test_sto03_total_quota_keeps_existing_data(make_instance):
    a = make_instance(storage_limits=(1000, 5000))
    for i in range(5):
        a.call("setStorageSync", {"key": f"k{i}", "data": "x" * 990})
    o = Owner(HOST, "wxapp_a", "u1")
    before = a.services.storage.checksum(o)
    err = a.fail("setStorage", {"key": "k9", "data": "x" * 100})
    assert err.err_msg == "setStorage:fail exceed storage max size 10Mb"
    assert a.fail("setStorage", {"key": "k5", "data": "x" * 30}).err_msg.endswith("max size 10Mb")
    assert a.services.storage.checksum(o) == before
    a.call("setStorage", {"key": "k0", "data": "small"})  # shrinking overwrite succeeds
    a.call("setStorage", {"key": "k9", "data": "x" * 100})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: "int key"}, b"bytes", {1, 2}])
def test_sto04_non_json_values_refused(make_instance, value):
    a = make_instance()
    err = a.fail("setStorageSync", {"key": "k", "data": value})
    assert err.err_msg.startswith("setStorageSync:fail parameter error")
    assert a.call("getStorageInfoSync")["keys"] == []


def test_sto04_deep_nesting_refused_without_recursion_error(make_instance):
    a = make_instance()
    v: object = 1
    for _ in range(5000):
        v = [v]
    assert a.fail("setStorageSync", {"key": "k", "data": v}).err_msg.startswith("setStorageSync:fail parameter")


@pytest.mark.parametrize("args", [{}, {"key": 1, "data": 1}, {"key": None, "data": 1}, {"key": "k"}])
def test_bad_arguments(make_instance, args):
    a = make_instance()
    assert a.fail("setStorageSync", args).err_msg.startswith("setStorageSync:fail parameter error")


def _db_bytes(tmp_path: Path) -> bytes:
    d = tmp_path / "data"
    return b"".join(p.read_bytes() for p in d.glob("storage.db*"))


def test_sto06_no_plaintext_on_disk(make_instance, tmp_path):
    a = make_instance()
    a.call("setStorageSync", {"key": "CANARYKEY-8d1f", "data": {"v": "CANARY-VALUE-77a3"}})
    raw = _db_bytes(tmp_path)
    assert b"CANARY-VALUE-77a3" not in raw and b"CANARYKEY-8d1f" not in raw
    assert "CANARY".encode("utf-16-le") not in raw


def _db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "data" / "storage.db", isolation_level=None)


def test_sto06_flipped_byte_is_detected(make_instance, tmp_path):
    a = make_instance()
    a.call("setStorageSync", {"key": "k", "data": "value"})
    db = _db(tmp_path)
    (blob,) = db.execute("SELECT value FROM kv").fetchone()
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    db.execute("UPDATE kv SET value=?", (bytes(tampered),))
    db.close()
    assert a.fail("getStorageSync", {"key": "k"}).err_msg == "getStorageSync:fail storage corrupted"


def test_sto06_row_moved_to_other_app_does_not_decrypt(make_instance, tmp_path):
    a = make_instance("wxapp_a")
    b = make_instance("wxapp_b")
    a.call("setStorageSync", {"key": "k", "data": "a-secret"})
    b.call("setStorageSync", {"key": "k", "data": "b-value"})
    db = _db(tmp_path)
    (blob,) = db.execute("SELECT value FROM kv WHERE app='wxapp_a'").fetchone()
    db.execute("UPDATE kv SET value=? WHERE app='wxapp_b'", (blob,))
    db.close()
    assert b.fail("getStorageSync", {"key": "k"}).err_msg.endswith("storage corrupted")


def test_sto06_value_swapped_between_keys_does_not_decrypt(make_instance, tmp_path):
    a = make_instance()
    a.call("setStorageSync", {"key": "balance", "data": 1})
    a.call("setStorageSync", {"key": "limit", "data": 999999})
    db = _db(tmp_path)
    rows = db.execute("SELECT kid, value FROM kv ORDER BY seq").fetchall()
    db.execute("UPDATE kv SET value=? WHERE kid=?", (rows[1][1], rows[0][0]))
    db.close()
    assert a.fail("getStorageSync", {"key": "balance"}).err_msg.endswith("storage corrupted")


def test_wrong_master_key_cannot_read(tmp_path):
    s1 = StorageService(tmp_path / "s.db", MASTER_KEY)
    o = Owner(HOST, "a", "u")
    s1.set(o, "k", "v")
    s1.close()
    s2 = StorageService(tmp_path / "s.db", b"z" * 32)
    with pytest.raises(Exception) as ei:
        s2.get(o, "k")
    assert type(ei.value).__name__ in ("NotFound", "StorageCorrupted")
    s2.close()


def test_short_master_key_refused(tmp_path):
    with pytest.raises(ValueError, match="master key"):
        StorageService(tmp_path / "s.db", b"short")


WRITER = textwrap.dedent("""
    import sys
    from minibox.policy.storage import Owner, StorageService
    s = StorageService(sys.argv[1], b"k" * 32)
    o = Owner("h", "app", "u")
    start = int(sys.argv[2])
    i = start
    while True:
        s.set(o, f"k{i % 16}", {"i": i, "pad": "p" * (i % 700)})
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
        i += 1
""")


@pytest.mark.slow
def test_sto05_sigkill_during_write_storm_loses_no_acknowledged_write(tmp_path):
    db = tmp_path / "storm.db"
    acked: dict[str, int] = {}
    start = 0
    for kill_after in (40, 110, 75, 150, 20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(start)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for n, line in enumerate(proc.stdout, 1):
            i = int(line)
            acked[f"k{i % 16}"] = i
            start = i + 1
            if n >= kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait()
        s = StorageService(db, MASTER_KEY)
        o = Owner("h", "app", "u")
        for key, last in acked.items():
            v = s.get(o, key)  # decrypts: never torn or corrupted
            assert v["i"] >= last and v["i"] % 16 == int(key[1:]) and v["pad"] == "p" * (v["i"] % 700)
            start = max(start, v["i"] + 1)
        assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        s.close()
