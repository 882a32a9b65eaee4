"""wx file APIs: the host side of `wx.getFileSystemManager()` plus saveFile & co.

Registered names: `FileSystemManager.<method>` and `FileSystemManager.<method>Sync` for readFile,
writeFile, appendFile, mkdir, readdir, stat, unlink, rmdir, access, rename, copyFile, saveFile,
getFileInfo; and the wx-level `saveFile`, `getSavedFileList`, `removeSavedFile`, `getFileInfo`
(async only, as in WeChat). Paths are `wxfile://` paths (`wx.env.USER_DATA_PATH` = `wxfile://usr`)
or code-package paths (read-only); see `minibox.policy.files` for the confinement rules.

Data crosses the bridge as strings with an `encoding` (utf8/utf-8, ascii, base64, hex,
binary/latin1, ucs2/ucs-2/utf16le/utf-16le). Binary data (ArrayBuffer; readFile without
`encoding`) travels as the tagged object `{"__type": "ArrayBuffer", "base64": "..."}` both ways.

errMsg strings follow WeChat's FileSystemManager docs, with the path the app passed:
`readFile:fail no such file or directory, open wxfile://usr/a.txt`,
`writeFile:fail permission denied, open /etc/passwd`, `mkdir:fail file already exists <path>`,
`rmdir:fail directory not empty`, `readdir:fail not a directory <path>`,
`unlink:fail operation not permitted, unlink <path>`,
`rename:fail no such file or directory, rename <old> -> <new>`,
`writeFile:fail the maximum size of the file storage limit is exceeded`,
`saveFile:fail tempFilePath file not exist`, `removeSavedFile:fail file not exist`,
`getFileInfo:fail file not exist`. Chosen where WeChat's is unknown:
`<api>:fail file name too long, open <path>`, `<api>:fail invalid encoding "<enc>"`,
`<api>:fail the value of "position" is out of range, open <path>`.
"""

from __future__ import annotations

import base64
import binascii
import errno
from collections.abc import Callable
from typing import Any

from minibox.apis.registry import ApiError, ApiRegistry, ApiSpec, Arg, CallContext
from minibox.apis.storage import owner_of
from minibox.policy.files import USER_DATA_PATH, FileService, FsError

__all__ = ["USER_DATA_PATH", "decode_data", "encode_data", "register"]

_CODECS = {"utf8": "utf-8", "utf-8": "utf-8", "ascii": "ascii", "latin1": "latin-1",
           "binary": "latin-1", "ucs2": "utf-16-le", "ucs-2": "utf-16-le", "utf16le": "utf-16-le",
           "utf-16le": "utf-16-le"}
ENCODINGS = (*_CODECS, "base64", "hex")


class _BadEncoding(Exception):
    pass


def array_buffer(data: bytes) -> dict[str, str]:
    return {"__type": "ArrayBuffer", "base64": base64.b64encode(data).decode()}


def decode_data(data: Any, encoding: str | None) -> bytes:
    """Bridge value -> bytes (writeFile, appendFile, request bodies)."""
    if isinstance(data, dict) and data.get("__type") == "ArrayBuffer":
        try:
            return base64.b64decode(str(data.get("base64", "")), validate=True)
        except binascii.Error as e:
            raise _BadEncoding("ArrayBuffer") from e
    if not isinstance(data, str):
        raise TypeError
    enc = (encoding or "utf8").lower()
    try:
        if enc == "base64":
            return base64.b64decode(data)
        if enc == "hex":
            return bytes.fromhex(data)
        if enc in _CODECS:
            return data.encode(_CODECS[enc], "surrogatepass" if _CODECS[enc] == "utf-8" else "strict")
    except (ValueError, binascii.Error) as e:
        raise _BadEncoding(enc) from e
    raise _BadEncoding(enc)


def encode_data(data: bytes, encoding: str | None) -> Any:
    """bytes -> bridge value (readFile)."""
    if encoding is None:
        return array_buffer(data)
    enc = encoding.lower()
    if enc == "base64":
        return base64.b64encode(data).decode()
    if enc == "hex":
        return data.hex()
    if enc in _CODECS:
        return data.decode(_CODECS[enc], "replace")
    raise _BadEncoding(enc)


def _svc(ctx: CallContext) -> FileService:
    if ctx.services.files is None:
        raise ApiError("fs:fail file system unavailable")
    return ctx.services.files


Fn = Callable[[CallContext, dict[str, Any]], dict[str, Any]]
_OS_REASONS = {errno.ENOENT: "no such file or directory", errno.EACCES: "permission denied",
               errno.EPERM: "operation not permitted", errno.ENOTEMPTY: "directory not empty",
               errno.EEXIST: "file already exists", errno.EISDIR: "illegal operation on a directory",
               errno.ENOTDIR: "not a directory", errno.ELOOP: "permission denied",
               errno.ENOSPC: "the maximum size of the file storage limit is exceeded",
               errno.ENAMETOOLONG: "file name too long"}


def _wrap(api: str, fn: Fn) -> Fn:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        try:
            out = fn(ctx, args)
        except FsError as e:
            raise ApiError(f"{api}:fail {e.message}") from None
        except _BadEncoding as e:
            raise ApiError(f'{api}:fail invalid encoding "{e}"') from None
        except TypeError:
            raise ApiError(f"{api}:fail parameter error: parameter.data should be String/ArrayBuffer") from None
        except UnicodeError:  # a path with a lone surrogate: no file can have that name
            raise ApiError(f"{api}:fail invalid path") from None
        except OSError as e:  # a race or an OS refusal the checks did not foresee: no host detail leaks
            raise ApiError(f"{api}:fail {_OS_REASONS.get(e.errno or 0, 'operation not permitted')}") from None
        out["errMsg"] = f"{api}:ok"
        return out
    return handler


def _read(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    enc = a.get("encoding")
    if enc is not None and enc.lower() not in ENCODINGS:
        raise _BadEncoding(enc)
    data = _svc(ctx).read_file(owner_of(ctx), a["filePath"], a.get("position") or 0, a.get("length"))
    return {"data": encode_data(data, enc)}


def _write(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).write_file(owner_of(ctx), a["filePath"], decode_data(a.get("data", ""), a.get("encoding")))
    return {}


def _append(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).write_file(owner_of(ctx), a["filePath"], decode_data(a.get("data", ""), a.get("encoding")),
                         append=True)
    return {}


def _mkdir(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).mkdir(owner_of(ctx), a["dirPath"], bool(a.get("recursive")))
    return {}


def _readdir(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    return {"files": _svc(ctx).readdir(owner_of(ctx), a["dirPath"])}


def _stat(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    s = _svc(ctx).stat(owner_of(ctx), a["path"], bool(a.get("recursive")))
    if isinstance(s, dict):
        return {"stats": [{"path": k, "stats": v.to_json()} for k, v in s.items()]}
    return {"stats": s.to_json()}


def _unlink(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).unlink(owner_of(ctx), a["filePath"])
    return {}


def _rmdir(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).rmdir(owner_of(ctx), a["dirPath"], bool(a.get("recursive")))
    return {}


def _access(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).access(owner_of(ctx), a["path"])
    return {}


def _rename(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).rename(owner_of(ctx), a["oldPath"], a["newPath"])
    return {}


def _copy(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).copy_file(owner_of(ctx), a["srcPath"], a["destPath"])
    return {}


def _save(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    path = _svc(ctx).save_file(owner_of(ctx), a["tempFilePath"], a.get("filePath"))
    return {"savedFilePath": path}


def _saved_list(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    return {"fileList": _svc(ctx).saved_files(owner_of(ctx))}


def _remove_saved(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).remove_saved(owner_of(ctx), a["filePath"])
    return {}


def _info(ctx: CallContext, a: dict[str, Any]) -> dict[str, Any]:
    alg = a.get("digestAlgorithm") or "md5"
    if alg not in ("md5", "sha1"):
        raise ApiError(f'getFileInfo:fail invalid digestAlgorithm "{alg}"')
    return _svc(ctx).file_info(owner_of(ctx), a["filePath"], alg)


S, B, N = (str,), (bool,), (int,)
_DATA = Arg((str, dict))
_FS: list[tuple[str, Fn, dict[str, Arg]]] = [
    ("readFile", _read, {"filePath": Arg(S, True), "encoding": Arg(S), "position": Arg(N), "length": Arg(N)}),
    ("writeFile", _write, {"filePath": Arg(S, True), "data": _DATA, "encoding": Arg(S)}),
    ("appendFile", _append, {"filePath": Arg(S, True), "data": _DATA, "encoding": Arg(S)}),
    ("mkdir", _mkdir, {"dirPath": Arg(S, True), "recursive": Arg(B)}),
    ("readdir", _readdir, {"dirPath": Arg(S, True)}),
    ("stat", _stat, {"path": Arg(S, True), "recursive": Arg(B)}),
    ("unlink", _unlink, {"filePath": Arg(S, True)}),
    ("rmdir", _rmdir, {"dirPath": Arg(S, True), "recursive": Arg(B)}),
    ("access", _access, {"path": Arg(S, True)}),
    ("rename", _rename, {"oldPath": Arg(S, True), "newPath": Arg(S, True)}),
    ("copyFile", _copy, {"srcPath": Arg(S, True), "destPath": Arg(S, True)}),
    ("saveFile", _save, {"tempFilePath": Arg(S, True), "filePath": Arg(S)}),
]
_WX: list[tuple[str, Fn, dict[str, Arg] | None]] = [
    ("saveFile", _save, {"tempFilePath": Arg(S, True)}),
    ("getSavedFileList", _saved_list, None),
    ("removeSavedFile", _remove_saved, {"filePath": Arg(S, True)}),
    ("getFileInfo", _info, {"filePath": Arg(S, True), "digestAlgorithm": Arg(S)}),
]


def register(registry: ApiRegistry) -> None:
    for name, fn, schema in _FS:
        registry.register(ApiSpec(f"FileSystemManager.{name}", _wrap(name, fn), schema, kind="async"))
        registry.register(ApiSpec(f"FileSystemManager.{name}Sync", _wrap(name + "Sync", fn), schema,
                                  kind="sync"))
    for name, fn, schema in _WX:
        registry.register(ApiSpec(name, _wrap(name, fn), schema, kind="async"))
    registry.register(ApiSpec("FileSystemManager.getFileInfo", _wrap("getFileInfo", _info),
                              {"filePath": Arg(S, True), "digestAlgorithm": Arg(S)}, kind="async"))
