"""The worker process: one mini-program instance in its own OS process.

The host starts it with `python -m minibox.runtime.worker`, sends frames on stdin and reads frames
on stdout (see `protocol`). Nothing but frames is ever written to stdout. The worker loads a
mini-program only as source text it is sent: never a file path, never engine bytecode (the
framework, the platform's own code, it loads itself before it locks down: `preload`).

Commands (host -> worker):
  {"cmd": "init", "sources": [[name, text | blob index], ...], "config": {...}, "limits": {...},
   "framework": "preloaded" (optional: the framework is not among the sources), "blobs": [bytes, ...]}
  {"cmd": "call", "fn": name, "args": {...}, "now": ms}
Replies (worker -> host):
  {"t": "call", "api": name, "args": {...}}    a wx API call; the host answers with {"t": "reply", ...}
  {"t": "done", "result": ..., "out": [...], "nextTimer": ms|null, "afterFlush": bool, "tickets": n}
  {"t": "done", "error": {"type": "script"|"oom"|"protocol", "message": str, "stack": str}}
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, BinaryIO

from minibox.runtime import preload, protocol, seccomp
from minibox.runtime.engine import Engine, EngineLimits
from minibox.runtime.errors import ScriptError, ScriptOutOfMemory
from minibox.runtime.oslimits import apply_limits

#: Runs before any other source. It takes the raw Python bridge function out of reach and puts a
#: JS gate in front of it: a call that is not a string, is too long, or (as a string) could not
#: cross into Python (a lone surrogate, or a rope the binding cannot convert: the binding would
#: leave a Python exception set and the worker would die later with SystemError) gets the
#: mini-program a WeChat-shaped `fail` and never reaches Python. Intrinsics are captured first.
BRIDGE_BOOTSTRAP = """
(function (raw, maxChars, maxDepth) {
  "use strict";
  var apply = Reflect.apply, exec = RegExp.prototype.exec, slice = String.prototype.slice;
  var toWellFormed = String.prototype.toWellFormed, stringify = JSON.stringify;
  var apiRe = /^\\{"api":"([A-Za-z0-9_.$]{1,64})"/;
  function fail(api, why) { return '{"err":{"errMsg":' + apply(stringify, JSON, [api + ":fail " + why]) + "}}"; }
  function hostCall(text) {
    if (typeof text !== "string") return fail("bridge", "malformed call");
    var m = apply(exec, apiRe, [apply(slice, text, [0, 80])]);
    var api = m ? m[1] : "bridge";
    if (text.length > maxChars) return fail(api, "parameter error: data exceeds the bridge limit of " + maxChars + " characters");
    // a flat, well-formed copy: lone surrogates become U+FFFD (JSON.stringify escapes them anyway)
    return raw(apply(toWellFormed, text, []));
  }
  Object.defineProperty(globalThis, "__host_call", { value: hostCall, writable: false, configurable: false, enumerable: false });
  Object.defineProperty(globalThis, "__mbBridgeLimits", {
    value: Object.freeze({ maxChars: maxChars, maxDepth: maxDepth }), writable: false, configurable: false });
})(globalThis.__mb_raw_host_call, %d, %d);
delete globalThis.__mb_raw_host_call;
""" % (protocol.MAX_CALL_CHARS, protocol.MAX_CALL_DEPTH)


_API_NAME = re.compile(r'\{"api":"([A-Za-z0-9_.$]{1,64})"')


def _fail(api: str, why: str) -> str:
    return json.dumps({"err": {"errMsg": f"{api}:fail {why}"}})


class Worker:
    def __init__(self, inp: BinaryIO, out: BinaryIO) -> None:
        self.inp = inp
        self.out = out
        self.engine: Engine | None = None
        #: set by a bridge call that lost the host: the worker exits once the engine returns
        self.fatal: str | None = None

    def host_call(self, payload: str) -> str:
        """Called from JS: forward a wx API call to the host and block for its answer.

        Size and nesting are checked before parsing; every refusal is a WeChat-shaped `fail`."""
        if not isinstance(payload, str):
            return _fail("bridge", "malformed call")
        head = _API_NAME.match(payload, 0, 80)
        api = head.group(1) if head else "bridge"
        why = protocol.check_json(payload, max_size=protocol.MAX_CALL_CHARS, max_depth=protocol.MAX_CALL_DEPTH)
        if why is not None:
            return _fail(api, f"parameter error: {why}")
        try:
            request = json.loads(payload)
        except (ValueError, TypeError, RecursionError, MemoryError):
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("api"), str):
            return _fail("bridge", "malformed call")
        try:
            frame = protocol.encode({"t": "call", "api": request.get("api"), "args": request.get("args")})
        except protocol.FrameError:
            return _fail(request["api"], "parameter error: data cannot cross the bridge")
        try:
            self.out.write(frame)
            self.out.flush()
            reply = protocol.read_frame(self.inp)
        except (OSError, EOFError, protocol.FrameError) as exc:
            self.fatal = f"the host pipe failed: {exc}"
            return _fail(request["api"], "bridge closed")
        if not isinstance(reply, dict) or reply.get("t") != "reply":
            self.fatal = "host sent something other than a reply"
            return _fail(request["api"], "bridge closed")
        return json.dumps({k: v for k, v in reply.items() if k != "t"})

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | bytes:
        """Answer one command: a reply to encode, or the body of a `done` frame ready to send."""
        cmd = msg.get("cmd")
        if cmd == "init":
            limits = EngineLimits(**msg.get("limits", {}))
            if msg.get("framework") == "preloaded":  # bridge gate and framework loaded (runtime.preload)
                self.engine = preload.take(BRIDGE_BOOTSTRAP, self.host_call, limits)
            else:
                self.engine = Engine(limits)
                self.engine.expose("__mb_raw_host_call", self.host_call)
                self.engine.eval(BRIDGE_BOOTSTRAP, "bridge.js")
            for name, text in msg["sources"]:
                if isinstance(text, int):  # raw UTF-8 after the frame (protocol.BLOBS)
                    text = msg[protocol.BLOBS][text].decode("utf-8", "surrogatepass")
                self.engine.eval(text, name)
            return self._run("init", {"config": msg["config"]}, msg.get("now", 0))
        if cmd == "call":
            return self._run(msg["fn"], msg.get("args") or {}, msg.get("now", 0))
        return {"t": "done", "error": {"type": "protocol", "message": f"unknown command {cmd!r}", "stack": ""}}

    def _run(self, fn: str, args: Any, now: float) -> dict[str, Any] | bytes:
        engine = self.engine
        if engine is None:
            return {"t": "done", "error": {"type": "protocol", "message": "not initialised", "stack": ""}}
        payload = json.dumps({"fn": fn, "args": args, "now": now})
        try:
            result_text = engine.call_json("__mbDispatch", payload)
            engine.drain_jobs()
            collected_text = engine.call_json("__mbCollect", "")
        finally:
            if self.fatal:
                raise SystemExit(self.fatal)
        return done_body(collected_text, result_text)


def done_body(collected_text: str, result_text: str) -> bytes:
    """The body of a `done` frame: the framework's JSON texts as they are, not parsed and encoded
    again. They are checked as every message (size, depth), then parsed once (fast; the objects
    are dropped at once) only to be sure that they are JSON: mini-program code can replace the
    framework's functions and so break its output, which harms only itself (a script error)."""
    collected = collected_text.encode("utf-8", "surrogatepass")
    result = result_text.encode("utf-8", "surrogatepass") if result_text else b"null"
    for text in (collected, result):  # checked before parsing, as every message
        why = protocol.check_json(text, max_size=protocol.MAX_FRAME_BYTES, max_depth=protocol.MAX_FRAME_DEPTH - 4)
        if why is not None:
            raise ScriptError(f"Error: the result could not be sent to the host: {why}")
    try:
        protocol.parse(result)
        ok = isinstance(protocol.parse(collected), dict)
    except protocol.FrameError:
        ok = False
    # spliced as text: an object with a key and nothing around it (JSON.stringify adds no spaces)
    if not ok or collected[:1] != b"{" or collected[-1:] != b"}" or collected == b"{}":
        raise ScriptError("the framework's output was corrupted by mini-program code")
    return b"".join((collected[:-1], b',"result":', result, b',"t":"done"}'))


def serve(cfg: dict[str, Any], inp: BinaryIO, out: BinaryIO) -> None:
    """Lock the process down, then answer frames until the host closes the pipe."""
    preload.preload(BRIDGE_BOOTSTRAP)  # done already in a worker forked from the fork server
    apply_limits(cfg)
    if cfg.get("seccomp", True):
        try:
            seccomp.install()
        except seccomp.SeccompUnavailable as exc:
            if cfg.get("seccomp") == "required":
                raise SystemExit(f"seccomp required but unavailable: {exc}") from None
            print(f"minibox worker: running without seccomp: {exc}", file=sys.stderr)
    worker = Worker(inp, out)
    while True:
        try:
            msg = protocol.read_frame(inp)
        except EOFError:
            return
        try:
            reply = worker.handle(msg)
        except ScriptOutOfMemory as exc:
            protocol.write_frame(out, {"t": "done", "error": {"type": "oom", "message": str(exc), "stack": ""}})
            return  # an engine that ran out of memory is not trusted again
        except ScriptError as exc:
            reply = {"t": "done", "error": {"type": "script", "message": exc.js_message, "stack": exc.stack}}
        try:
            frame = protocol.frame(reply) if isinstance(reply, bytes) else protocol.encode(reply)
        except protocol.FrameError as exc:
            frame = protocol.encode({"t": "done", "error": {
                "type": "script", "message": f"Error: the result could not be sent to the host: {exc}", "stack": ""}})
        out.write(frame)
        out.flush()


def main() -> None:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must never corrupt the frame stream
    serve(json.loads(os.environ.get("MINIBOX_WORKER_LIMITS", "{}")), sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
