"""The worker process: one mini-program instance in its own OS process.

The host starts it with `python -m minibox.runtime.worker`, sends frames on stdin and reads frames
on stdout (see `protocol`). Nothing but frames is ever written to stdout. The worker loads only
source text it is sent: never a file path, never engine bytecode.

Commands (host -> worker):
  {"cmd": "init", "sources": [[name, text], ...], "config": {...}, "limits": {...}}
  {"cmd": "call", "fn": name, "args": {...}, "now": ms}
Replies (worker -> host):
  {"t": "call", "api": name, "args": {...}}    a wx API call; the host answers with {"t": "reply", ...}
  {"t": "done", "result": ..., "out": [...], "nextTimer": ms|null, "afterFlush": bool, "tickets": n}
  {"t": "done", "error": {"type": "script"|"oom"|"protocol", "message": str, "stack": str}}
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, BinaryIO

from minibox.runtime import protocol, seccomp
from minibox.runtime.engine import Engine, EngineLimits
from minibox.runtime.errors import ScriptError, ScriptOutOfMemory
from minibox.runtime.oslimits import apply_limits


class Worker:
    def __init__(self, inp: BinaryIO, out: BinaryIO) -> None:
        self.inp = inp
        self.out = out
        self.engine: Engine | None = None

    def host_call(self, payload: str) -> str:
        """Called from JS: forward a wx API call to the host and block for its answer."""
        try:
            request = json.loads(payload)
        except (ValueError, TypeError):
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("api"), str):
            return json.dumps({"err": {"errMsg": "bridge:fail malformed call"}})
        protocol.write_frame(self.out, {"t": "call", "api": request.get("api"), "args": request.get("args")})
        reply = protocol.read_frame(self.inp)
        if not isinstance(reply, dict) or reply.get("t") != "reply":
            raise SystemExit("host sent something other than a reply")
        return json.dumps({k: v for k, v in reply.items() if k != "t"})

    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        cmd = msg.get("cmd")
        if cmd == "init":
            limits = EngineLimits(**msg.get("limits", {}))
            self.engine = Engine(limits)
            self.engine.expose("__host_call", self.host_call)
            for name, text in msg["sources"]:
                self.engine.eval(text, name)
            return self._run("init", {"config": msg["config"]}, msg.get("now", 0))
        if cmd == "call":
            return self._run(msg["fn"], msg.get("args") or {}, msg.get("now", 0))
        return {"t": "done", "error": {"type": "protocol", "message": f"unknown command {cmd!r}", "stack": ""}}

    def _run(self, fn: str, args: Any, now: float) -> dict[str, Any]:
        engine = self.engine
        if engine is None:
            return {"t": "done", "error": {"type": "protocol", "message": "not initialised", "stack": ""}}
        payload = json.dumps({"fn": fn, "args": args, "now": now})
        result_text = engine.call_json("__mbDispatch", payload)
        engine.drain_jobs()
        collected_text = engine.call_json("__mbCollect", "")
        try:
            collected = json.loads(collected_text)
            collected["result"] = json.loads(result_text) if result_text else None
        except (ValueError, TypeError):
            # mini-program code broke the framework's own output (it can only harm itself)
            raise ScriptError("the framework's output was corrupted by mini-program code") from None
        collected["t"] = "done"
        return collected


def serve(cfg: dict[str, Any], inp: BinaryIO, out: BinaryIO) -> None:
    """Lock the process down, then answer frames until the host closes the pipe."""
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
        protocol.write_frame(out, reply)


def main() -> None:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must never corrupt the frame stream
    serve(json.loads(os.environ.get("MINIBOX_WORKER_LIMITS", "{}")), sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
