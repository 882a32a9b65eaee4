"""FS-01..05: confinement of wxfile:// paths, symlinks, devices, quotas, package paths, errMsgs."""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import unicodedata
from pathlib import Path

import pytest

from minibox.apis.storage import owner_of

FS = "FileSystemManager."
U = "wxfile://usr"


def snapshot(root: Path, exclude: Path) -> dict[str, bytes]:
    out = {}
    for p in root.rglob("*"):
        if exclude in p.parents or p == exclude or p.is_symlink() or not p.is_file():
            continue
        out[str(p)] = p.read_bytes()
    return out


@pytest.fixture
def fsx(make_instance, tmp_path):
    inst = make_instance()
    inst.outside = tmp_path / "outside.txt"
    inst.outside.write_text("host secret")
    inst.usr = inst.services.files.owner_dir(owner_of(inst.ctx)) / "usr"
    return inst


def test_write_read_roundtrip_encodings(fsx):
    fsx.call(FS + "writeFileSync", {"filePath": f"{U}/a.txt", "data": "héllo", "encoding": "utf8"})
    assert fsx.call(FS + "readFileSync", {"filePath": f"{U}/a.txt", "encoding": "utf-8"})["data"] == "héllo"
    assert fsx.call(FS + "readFile", {"filePath": f"{U}/a.txt", "encoding": "hex"})["data"] == "héllo".encode().hex()
    fsx.call(FS + "writeFile", {"filePath": f"{U}/b.bin", "data": base64.b64encode(b"\0\1\2").decode(),
                                "encoding": "base64"})
    ab = fsx.call(FS + "readFile", {"filePath": f"{U}/b.bin"})["data"]
    assert ab == {"__type": "ArrayBuffer", "base64": base64.b64encode(b"\0\1\2").decode()}
    fsx.call(FS + "writeFile", {"filePath": f"{U}/c.bin", "data": ab})
    assert fsx.call(FS + "readFile", {"filePath": f"{U}/c.bin", "encoding": "base64"})["data"] == "AAEC"
    fsx.call(FS + "appendFileSync", {"filePath": f"{U}/a.txt", "data": "!"})
    assert fsx.call(FS + "readFile", {"filePath": f"{U}/a.txt", "encoding": "utf8",
                                      "position": 1, "length": 3})["data"] == "él"
    assert fsx.call(FS + "readFile", {"filePath": f"{U}/a.txt", "encoding": "latin1"})["data"].endswith("!")


def test_dir_ops_stat_rename_copy(fsx):
    fsx.call(FS + "mkdir", {"dirPath": f"{U}/x/y/z", "recursive": True})
    fsx.call(FS + "writeFile", {"filePath": f"{U}/x/y/f.txt", "data": "1"})
    assert fsx.call(FS + "readdir", {"dirPath": f"{U}/x/y"})["files"] == ["f.txt", "z"]
    st = fsx.call(FS + "stat", {"path": f"{U}/x/y/f.txt"})["stats"]
    assert st["isFile"] and st["size"] == 1
    rec = fsx.call(FS + "stat", {"path": f"{U}/x", "recursive": True})["stats"]
    assert {r["path"] for r in rec} == {"/", "/y", "/y/z", "/y/f.txt"}
    fsx.call(FS + "rename", {"oldPath": f"{U}/x/y/f.txt", "newPath": f"{U}/g.txt"})
    fsx.call(FS + "copyFile", {"srcPath": f"{U}/g.txt", "destPath": f"{U}/h.txt"})
    fsx.call(FS + "access", {"path": f"{U}/h.txt"})
    fsx.call(FS + "unlink", {"filePath": f"{U}/g.txt"})
    assert fsx.fail(FS + "rmdir", {"dirPath": f"{U}/x"}).err_msg == "rmdir:fail directory not empty"
    fsx.call(FS + "rmdir", {"dirPath": f"{U}/x", "recursive": True})
    assert fsx.call(FS + "readdir", {"dirPath": U})["files"] == ["h.txt"]


EXACT = [
    (FS + "readFile", {"filePath": f"{U}/a.txt"}, "readFile:fail no such file or directory, open wxfile://usr/a.txt"),
    (FS + "readFileSync", {"filePath": f"{U}/a.txt"},
     "readFileSync:fail no such file or directory, open wxfile://usr/a.txt"),
    (FS + "writeFile", {"filePath": f"{U}/no/dir.txt", "data": "x"},
     "writeFile:fail no such file or directory, open wxfile://usr/no/dir.txt"),
    (FS + "appendFile", {"filePath": f"{U}/a.txt", "data": "x"},
     "appendFile:fail no such file or directory, open wxfile://usr/a.txt"),
    (FS + "mkdir", {"dirPath": f"{U}/d"}, "mkdir:fail file already exists wxfile://usr/d"),
    (FS + "mkdir", {"dirPath": f"{U}/p/q"}, "mkdir:fail no such file or directory wxfile://usr/p/q"),
    (FS + "readdir", {"dirPath": f"{U}/f.txt"}, "readdir:fail not a directory wxfile://usr/f.txt"),
    (FS + "readdir", {"dirPath": f"{U}/nope"}, "readdir:fail no such file or directory wxfile://usr/nope"),
    (FS + "unlink", {"filePath": f"{U}/d"}, "unlink:fail operation not permitted, unlink wxfile://usr/d"),
    (FS + "unlink", {"filePath": f"{U}/zz"}, "unlink:fail no such file or directory wxfile://usr/zz"),
    (FS + "rmdir", {"dirPath": f"{U}/zz"}, "rmdir:fail no such file or directory wxfile://usr/zz"),
    (FS + "access", {"path": f"{U}/zz"}, "access:fail no such file or directory wxfile://usr/zz"),
    (FS + "stat", {"path": f"{U}/zz"}, "stat:fail no such file or directory wxfile://usr/zz"),
    (FS + "rename", {"oldPath": f"{U}/zz", "newPath": f"{U}/yy"},
     "rename:fail no such file or directory, rename wxfile://usr/zz -> wxfile://usr/yy"),
    (FS + "copyFile", {"srcPath": f"{U}/zz", "destPath": f"{U}/yy"},
     "copyFile:fail no such file or directory, copyFile wxfile://usr/zz -> wxfile://usr/yy"),
    (FS + "readFile", {"filePath": f"{U}/d"}, "readFile:fail illegal operation on a directory, open wxfile://usr/d"),
    (FS + "readFile", {"filePath": f"{U}/f.txt", "encoding": "utf9"}, 'readFile:fail invalid encoding "utf9"'),
    ("removeSavedFile", {"filePath": "wxfile://store_nope"}, "removeSavedFile:fail file not exist"),
    ("getFileInfo", {"filePath": f"{U}/zz"}, "getFileInfo:fail file not exist"),
    ("saveFile", {"tempFilePath": f"{U}/f.txt"}, "saveFile:fail tempFilePath file not exist"),
    (FS + "rmdir", {"dirPath": U, "recursive": True}, "rmdir:fail permission denied, open wxfile://usr"),
]


@pytest.mark.parametrize(("api", "args", "msg"), EXACT, ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(EXACT)])
def test_errmsg_strings(fsx, api, args, msg):
    fsx.call(FS + "mkdir", {"dirPath": f"{U}/d"})
    fsx.call(FS + "writeFile", {"filePath": f"{U}/f.txt", "data": "x"})
    assert fsx.fail(api, args).err_msg == msg


TRAVERSAL = [f"{U}/../x", f"{U}/../../etc/passwd", "wxfile://usr/../../../../tmp/evil", f"{U}/a/../../x",
             "wxfile://../wxapp_b/usr/x", "wxfile://usr\\..\\x", f"{U}/a\x00b", f"{U}/./a", "wxfile://etc/passwd",
             "wxfile://tmp_../../x", "wxfile://store_x/../../y", "wxfile:///etc/passwd", f"{U}/" + "a/" * 3000,
             f"{U}/line\nbreak", f"{U}/.mbtmp-x"]


@pytest.mark.parametrize("path", TRAVERSAL)
def test_fs01_traversal_refused_on_write_and_read(fsx, tmp_path, path):
    owner_root = fsx.usr.parent
    fsx.call(FS + "writeFile", {"filePath": f"{U}/x", "data": "x"})
    before = snapshot(tmp_path, owner_root)
    w = fsx.fail(FS + "writeFileSync", {"filePath": path, "data": "pwned"})
    assert w.err_msg.startswith("writeFileSync:fail permission denied")
    r = fsx.fail(FS + "readFileSync", {"filePath": path})
    assert r.err_msg.startswith("readFileSync:fail permission denied")
    for api, args in [("rename", {"oldPath": f"{U}/x", "newPath": path}), ("rename", {"oldPath": path, "newPath": f"{U}/y"}),
                      ("copyFile", {"srcPath": path, "destPath": f"{U}/y"}), ("copyFile", {"srcPath": f"{U}/x", "destPath": path}),
                      ("mkdir", {"dirPath": path, "recursive": True}), ("unlink", {"filePath": path}),
                      ("rmdir", {"dirPath": path, "recursive": True}), ("readdir", {"dirPath": path}),
                      ("stat", {"path": path}), ("access", {"path": path}), ("appendFile", {"filePath": path, "data": "x"})]:
        assert fsx.fail(FS + api, args).err_msg.startswith(f"{api}:fail permission denied"), api
    assert snapshot(tmp_path, owner_root) == before
    assert fsx.outside.read_text() == "host secret"


@pytest.mark.parametrize("path", ["/etc/passwd", "/proc/self/environ", "etc/passwd", "C:\\x", "../../etc/passwd",
                                  "/pages/index.js", "pages/../../x"])
def test_fs01_fs04_package_and_absolute_paths_are_read_only(fsx, tmp_path, path):
    before = snapshot(tmp_path, fsx.usr.parent)
    err = fsx.fail(FS + "writeFile", {"filePath": path, "data": "x"})
    assert err.err_msg.startswith("writeFile:fail permission denied")
    err = fsx.fail(FS + "readFile", {"filePath": path, "encoding": "utf8"})
    assert "no such file or directory" in err.err_msg or "permission denied" in err.err_msg
    assert snapshot(tmp_path, fsx.usr.parent) == before


def test_fs04_package_files_readable_but_confined(make_instance, tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "images").mkdir(parents=True)
    (pkg / "images" / "a.txt").write_text("pkg file")
    (pkg / "images" / "link").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("s")
    inst = make_instance(package_dir=pkg)
    assert inst.call(FS + "readFile", {"filePath": "/images/a.txt", "encoding": "utf8"})["data"] == "pkg file"
    assert inst.fail(FS + "readFile", {"filePath": "/images/link"}).err_msg.startswith("readFile:fail permission")
    assert inst.fail(FS + "readFile", {"filePath": "/images/../../secret.txt"}).err_msg.startswith(
        "readFile:fail permission denied")
    assert inst.fail(FS + "unlink", {"filePath": "/images/a.txt"}).err_msg.startswith("unlink:fail permission")
    assert (pkg / "images" / "a.txt").read_text() == "pkg file"


def test_fs02_symlink_to_outside_refused(fsx):
    (fsx.usr / "link").symlink_to(fsx.outside)
    assert fsx.fail(FS + "readFile", {"filePath": f"{U}/link"}).err_msg == \
        "readFile:fail permission denied, open wxfile://usr/link"
    assert fsx.fail(FS + "writeFile", {"filePath": f"{U}/link", "data": "x"}).err_msg.startswith(
        "writeFile:fail permission denied")
    assert fsx.fail(FS + "appendFile", {"filePath": f"{U}/link", "data": "x"}).err_msg.startswith(
        "appendFile:fail permission denied")
    assert fsx.fail(FS + "copyFile", {"srcPath": f"{U}/link", "destPath": f"{U}/c"}).err_msg.startswith(
        "copyFile:fail permission denied")
    assert fsx.fail(FS + "stat", {"path": f"{U}/link"}).err_msg.startswith("stat:fail permission denied")
    assert fsx.outside.read_text() == "host secret"


def test_fs02_symlinked_parent_directory_refused(fsx, tmp_path):
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    (out_dir / "f").write_text("outside")
    (fsx.usr / "sub").symlink_to(out_dir, target_is_directory=True)
    for api, args in [(FS + "readFile", {"filePath": f"{U}/sub/f"}),
                      (FS + "writeFile", {"filePath": f"{U}/sub/new", "data": "x"}),
                      (FS + "mkdir", {"dirPath": f"{U}/sub/d", "recursive": True}),
                      (FS + "readdir", {"dirPath": f"{U}/sub"}),
                      (FS + "unlink", {"filePath": f"{U}/sub/f"}),
                      (FS + "rmdir", {"dirPath": f"{U}/sub", "recursive": True}),
                      (FS + "rename", {"oldPath": f"{U}/sub/f", "newPath": f"{U}/stolen"}),
                      (FS + "rename", {"oldPath": f"{U}/x", "newPath": f"{U}/sub/x"}),
                      (FS + "copyFile", {"srcPath": f"{U}/sub/f", "destPath": f"{U}/c"})]:
        assert "permission denied" in fsx.fail(api, args).err_msg, api
    assert sorted(p.name for p in out_dir.iterdir()) == ["f"] and (out_dir / "f").read_text() == "outside"


def test_fs02_rmdir_recursive_does_not_follow_inner_links(fsx, tmp_path):
    out_dir = tmp_path / "keep"
    out_dir.mkdir()
    (out_dir / "f").write_text("keep")
    fsx.call(FS + "mkdir", {"dirPath": f"{U}/d"})
    (fsx.usr / "d" / "l").symlink_to(out_dir, target_is_directory=True)
    fsx.call(FS + "rmdir", {"dirPath": f"{U}/d", "recursive": True})
    assert (out_dir / "f").read_text() == "keep"


def test_fs02_toctou_directory_swapped_for_symlink(fsx, tmp_path):
    target = tmp_path / "victim"
    target.mkdir()
    stop = threading.Event()
    d = fsx.usr / "race"

    def swapper() -> None:
        while not stop.is_set():
            try:
                d.mkdir()
                d.rmdir()
                d.symlink_to(target, target_is_directory=True)
                d.unlink()
            except OSError:
                pass

    t = threading.Thread(target=swapper)
    t.start()
    try:
        for i in range(300):
            with contextlib.suppress(Exception):
                fsx.call(FS + "writeFileSync", {"filePath": f"{U}/race/f{i}", "data": "x"})
    finally:
        stop.set()
        t.join()
    assert list(target.iterdir()) == []


def test_fs02_fifo_and_device_refused_without_blocking(fsx):
    os.mkfifo(fsx.usr / "fifo")
    (fsx.usr / "null").symlink_to("/dev/null")
    assert fsx.fail(FS + "readFile", {"filePath": f"{U}/fifo"}).err_msg.startswith("readFile:fail permission")
    assert fsx.fail(FS + "appendFile", {"filePath": f"{U}/fifo", "data": "x"}).err_msg.startswith(
        "appendFile:fail permission")
    assert fsx.fail(FS + "readFile", {"filePath": f"{U}/null"}).err_msg.startswith("readFile:fail permission")


def test_fs03_quota_scaled(make_instance):
    inst = make_instance(file_quota=10_000)
    inst.call(FS + "writeFile", {"filePath": f"{U}/a", "data": "x" * 6000})
    err = inst.fail(FS + "writeFile", {"filePath": f"{U}/b", "data": "x" * 6000})
    assert err.err_msg == "writeFile:fail the maximum size of the file storage limit is exceeded"
    inst.call(FS + "writeFile", {"filePath": f"{U}/a", "data": "y" * 9000})  # overwrite counts the delta
    for _ in range(20):
        try:
            inst.call(FS + "appendFile", {"filePath": f"{U}/a", "data": "z" * 300})
        except Exception as e:
            assert "maximum size" in str(e)
            break
    else:
        pytest.fail("append loop never hit the quota")
    assert len(inst.call(FS + "readFile", {"filePath": f"{U}/a", "encoding": "utf8"})["data"]) <= 10_000
    assert inst.call(FS + "readdir", {"dirPath": U})["files"] == ["a"]


def test_fs05_long_names_and_unicode_forms(fsx):
    err = fsx.fail(FS + "writeFile", {"filePath": f"{U}/" + "n" * 256, "data": "x"})
    assert err.err_msg.startswith("writeFile:fail file name too long")
    nfc, nfd = unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é")
    fsx.call(FS + "writeFile", {"filePath": f"{U}/{nfc}", "data": "nfc"})
    fsx.call(FS + "writeFile", {"filePath": f"{U}/{nfd}", "data": "nfd"})
    assert fsx.call(FS + "readFile", {"filePath": f"{U}/{nfc}", "encoding": "utf8"})["data"] == "nfc"
    assert fsx.call(FS + "readFile", {"filePath": f"{U}/{nfd}", "encoding": "utf8"})["data"] == "nfd"
    for name in ["CON", "aux", "..%2f", "%2e%2e", "．．"]:
        fsx.call(FS + "writeFile", {"filePath": f"{U}/{name}", "data": name})
    assert set(os.listdir(fsx.usr)) >= {"CON", "aux", "..%2f", "%2e%2e", "．．"}


def test_cross_app_and_user_files_isolated(make_instance):
    a = make_instance("wxapp_a")
    b = make_instance("wxapp_b")
    a2 = make_instance("wxapp_a", "u2")
    a.call(FS + "writeFile", {"filePath": f"{U}/secret.txt", "data": "A"})
    for other in (b, a2):
        assert "no such file" in other.fail(FS + "readFile", {"filePath": f"{U}/secret.txt"}).err_msg
        other.call(FS + "writeFile", {"filePath": f"{U}/secret.txt", "data": "other"})
        assert other.call(FS + "readdir", {"dirPath": U})["files"] == ["secret.txt"]
    assert a.call(FS + "readFile", {"filePath": f"{U}/secret.txt", "encoding": "utf8"})["data"] == "A"
    d = a.services.files.owner_dir(owner_of(a.ctx))
    assert "wxapp_a" not in str(d) and "u1" not in d.name


def test_saved_files_and_temp(fsx):
    tmp = fsx.services.files.create_temp(owner_of(fsx.ctx), b"temp data", ".png")
    assert tmp.startswith("wxfile://tmp_") and tmp.endswith(".png")
    assert fsx.call(FS + "readFile", {"filePath": tmp, "encoding": "utf8"})["data"] == "temp data"
    assert fsx.fail(FS + "writeFile", {"filePath": tmp, "data": "x"}).err_msg.startswith("writeFile:fail permission")
    saved = fsx.call("saveFile", {"tempFilePath": tmp})["savedFilePath"]
    assert saved.startswith("wxfile://store_")
    lst = fsx.call("getSavedFileList")["fileList"]
    assert [f["filePath"] for f in lst] == [saved] and lst[0]["size"] == 9
    info = fsx.call("getFileInfo", {"filePath": saved, "digestAlgorithm": "sha1"})
    assert info["size"] == 9 and len(info["digest"]) == 40
    fsx.call("removeSavedFile", {"filePath": saved})
    assert fsx.call("getSavedFileList")["fileList"] == []
    assert fsx.fail("removeSavedFile", {"filePath": f"{U}/x"}).err_msg == "removeSavedFile:fail file not exist"


def test_crash_consistent_write_leaves_no_temp_names(fsx):
    for i in range(5):
        fsx.call(FS + "writeFile", {"filePath": f"{U}/f", "data": str(i)})
    assert os.listdir(fsx.usr) == ["f"]


def test_files_encrypted_at_rest_and_bound_to_owner(make_instance, tmp_path):
    a = make_instance("wxapp_a")
    b = make_instance("wxapp_b")
    a.call(FS + "writeFile", {"filePath": f"{U}/c.txt", "data": "FILE-CANARY-91x"})
    a.call(FS + "appendFile", {"filePath": f"{U}/c.txt", "data": "-APPENDED"})
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data" / "files").rglob("*") if p.is_file())
    assert b"FILE-CANARY" not in raw and b"APPENDED" not in raw
    assert a.call(FS + "stat", {"path": f"{U}/c.txt"})["stats"]["size"] == len("FILE-CANARY-91x-APPENDED")
    a_file = a.services.files.owner_dir(owner_of(a.ctx)) / "usr" / "c.txt"
    b_usr = b.services.files.owner_dir(owner_of(b.ctx)) / "usr"
    (b_usr / "stolen.txt").write_bytes(a_file.read_bytes())
    assert b.fail(FS + "readFile", {"filePath": f"{U}/stolen.txt"}).err_msg == \
        "readFile:fail file corrupted, open wxfile://usr/stolen.txt"
    blob = bytearray(a_file.read_bytes())
    blob[20] ^= 0x01
    a_file.write_bytes(bytes(blob))
    assert a.fail(FS + "readFile", {"filePath": f"{U}/c.txt"}).err_msg.endswith("file corrupted, open wxfile://usr/c.txt")
    assert "file corrupted" in a.fail(FS + "appendFile", {"filePath": f"{U}/c.txt", "data": "x"}).err_msg


def test_rename_directory_into_itself_is_a_typed_error(fsx):
    fsx.call(FS + "mkdir", {"dirPath": f"{U}/d/sub", "recursive": True})
    err = fsx.fail(FS + "rename", {"oldPath": f"{U}/d", "newPath": f"{U}/d/sub/d"})
    assert err.err_msg.startswith("rename:fail ") and "/" not in err.err_msg.split("fail ", 1)[1].split(",")[0]
    assert fsx.call(FS + "readdir", {"dirPath": f"{U}/d"})["files"] == ["sub"]
