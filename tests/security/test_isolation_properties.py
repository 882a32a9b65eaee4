"""Property tests: storage keys never cross apps (STO-01); no file path escapes its root (FS-01)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minibox.apis.registry import ApiError
from minibox.apis.storage import owner_of

SETTINGS = settings(max_examples=200, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
KEYS = st.text(min_size=0, max_size=40) | st.sampled_from(["wxapp_a:k", "../wxapp_a/k", "k\x00", "k"])
SEGMENTS = st.sampled_from(["..", ".", "", "a", "b", "\\", "\x00", "%2e%2e", "．．", "usr", "wxfile:", "~", "/",
                            "store_x", "tmp_y", "\n", " ", "é", "CON", "link"])
PATHS = st.builds(lambda pre, segs: pre + "/".join(segs),
                  st.sampled_from(["wxfile://usr/", "wxfile://", "/", "", "wxfile://usr", "wxfile:///", "../",
                                   "wxfile://store_", "wxfile://tmp_", "http://usr/"]),
                  st.lists(SEGMENTS, max_size=6))


@pytest.fixture
def pair(make_instance):
    return make_instance("wxapp_a"), make_instance("wxapp_b")


def test_sto01_keys_never_cross_apps(pair):
    a, b = pair

    @SETTINGS
    @given(KEYS)
    def check(key: str) -> None:
        a.call("setStorageSync", {"key": key, "data": {"owner": "a", "key": key}})
        with pytest.raises(ApiError, match="data not found"):
            b.call("getStorageSync", {"key": key})
        assert a.call("getStorageSync", {"key": key})["data"] == {"owner": "a", "key": key}

    check()
    assert b.call("getStorageInfoSync")["keys"] == []


def _outside(tmp: Path, root: Path) -> set[str]:
    return {str(p) for p in tmp.rglob("*") if root not in p.parents and p != root}


def test_fs01_no_path_escapes(pair, tmp_path):
    a, b = pair
    usr = a.services.files.owner_dir(owner_of(a.ctx)) / "usr"
    (usr / "link").symlink_to(tmp_path, target_is_directory=True)
    b.call("FileSystemManager.writeFile", {"filePath": "wxfile://usr/b.txt", "data": "B"})
    root = usr.parent
    before = _outside(tmp_path, root)
    seen = {"n": 0}

    @SETTINGS
    @given(PATHS, st.sampled_from(["writeFile", "appendFile", "mkdir", "unlink", "rmdir", "readFile", "rename"]))
    def check(path: str, op: str) -> None:
        args = {"writeFile": {"filePath": path, "data": "x"}, "appendFile": {"filePath": path, "data": "x"},
                "mkdir": {"dirPath": path, "recursive": True}, "unlink": {"filePath": path},
                "rmdir": {"dirPath": path, "recursive": True}, "readFile": {"filePath": path},
                "rename": {"oldPath": "wxfile://usr/x", "newPath": path}}[op]
        seen["n"] += 1
        with contextlib.suppress(ApiError):
            a.call(f"FileSystemManager.{op}", args)
        assert _outside(tmp_path, root) == before, (op, path)

    check()
    assert seen["n"] >= 100
    assert b.call("FileSystemManager.readFile", {"filePath": "wxfile://usr/b.txt", "encoding": "utf8"})["data"] == "B"
    assert os.path.islink(usr / "link") or not (usr / "link").exists()
