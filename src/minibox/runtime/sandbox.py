"""The host's handle on one worker process: spawn, talk, watch, kill.

The watchdog is outside the engine: each command has a CPU budget, and a worker that has not
answered when it runs out is killed (an engine interrupt never sees `await new Promise(() => {})`
or a stuck host call, a process kill always works). Time the host spends answering the worker's
API calls does not count against the worker's budget.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minibox.runtime import protocol
from minibox.runtime.errors import (
    ScriptError,
    ScriptOutOfMemory,
    ScriptTimeout,
    WorkerCrashed,
    WorkerProtocolError,
)

#: CPU budget for one callback (a lifecycle hook, an event handler, a timer) before the kill.
DEFAULT_CPU_BUDGET = 5.0
#: How long a fresh worker may take to start and load the framework and the bundle.
STARTUP_BUDGET = 30.0

CallHandler = Callable[[str, Any], dict[str, Any]]

class InstanceOverBudget(ScriptTimeout):
    """The instance spent more than its time budget (engine plus host time); it was stopped."""


#: Environment variables a worker may see: enough to start Python, nothing of the host's secrets.
_WORKER_ENV = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "SYSTEMROOT")
#: Workers run in an empty directory: relative paths lead nowhere (and seccomp refuses opens).
_EMPTY_DIR = tempfile.mkdtemp(prefix="minibox-worker-")


@dataclass
class WorkerLimits:
    cpu_budget: float = DEFAULT_CPU_BUDGET
    memory_bytes: int = 256 * 1024 * 1024
    address_space: int = 1024 * 1024 * 1024
    open_files: int = 64
    #: True: install when the platform supports it; "required": refuse to run without it.
    seccomp: bool | str = True
    extra_env: dict[str, str] = field(default_factory=dict)


class _FrameReader:
    """Reads frames from a pipe with deadlines (select on the raw fd, our own buffer)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def read(self, deadline: Callable[[], float]) -> Any:
        while True:
            if len(self.buf) >= 4:
                size = int.from_bytes(self.buf[:4], "big")
                if size > protocol.MAX_FRAME_BYTES:
                    raise WorkerProtocolError(f"worker sent a frame of {size} bytes")
                if len(self.buf) >= 4 + size:
                    body = bytes(self.buf[4 : 4 + size])
                    del self.buf[: 4 + size]
                    try:  # size and nesting are checked before parsing
                        return protocol.loads(body)
                    except protocol.FrameError as exc:
                        raise WorkerProtocolError(f"worker sent a bad frame: {exc}") from None
            remaining = deadline() - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                raise EOFError
            self.buf += chunk


class ForkedProc:
    """A worker forked by the zygote: not our child, so it is watched and signalled by pidfd."""

    def __init__(self, pid: int, stdin_fd: int, stdout_fd: int) -> None:
        self.pid = pid
        self.stdin = open(stdin_fd, "wb")  # noqa: SIM115 - closed by WorkerProcess.close
        self.stdout = open(stdout_fd, "rb", buffering=0)  # noqa: SIM115
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            self._pidfd = None
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and (self._pidfd is None or select.select([self._pidfd], [], [], 0)[0]):
            self._exited()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if self._pidfd is not None and not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            self._exited()
        return self.returncode or 0

    def kill(self) -> None:
        if self._pidfd is not None and self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def _exited(self) -> None:
        self.returncode = 0  # the zygote reaps its children; the status is not ours to read
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class Zygote:
    """The fork server process (see `minibox.runtime.zygote`)."""

    def __init__(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "minibox.runtime.zygote", str(child.fileno())],
            pass_fds=[child.fileno()], env=_worker_env(), cwd=_EMPTY_DIR, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True,
        )
        child.close()
        self.sock = parent
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, cfg: dict[str, Any], stderr_fd: int) -> ForkedProc:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            with self._lock:
                socket.send_fds(self.sock, [json.dumps(cfg).encode()], [in_r, out_w, stderr_fd])
                data = b""
                while len(data) < 4:
                    chunk = self.sock.recv(4 - len(data))
                    if not chunk:
                        raise WorkerCrashed("the fork server is gone")
                    data += chunk
        except OSError as exc:
            os.close(in_w)
            os.close(out_r)
            raise WorkerCrashed(f"the fork server failed: {exc}") from None
        finally:
            os.close(in_r)
            os.close(out_w)
        pid = int.from_bytes(data, "little", signed=True)
        if pid <= 0:
            os.close(in_w)
            os.close(out_r)
            raise WorkerCrashed("the fork server refused to fork")
        return ForkedProc(pid, in_w, out_r)

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


_zygote: Zygote | None = None
_zygote_lock = threading.Lock()


def default_zygote() -> Zygote:
    """The host's fork server, started on first use and restarted if it died."""
    global _zygote
    with _zygote_lock:
        if _zygote is None or not _zygote.alive:
            _zygote = Zygote()
            atexit.register(_zygote.close)
        return _zygote


def _worker_env() -> dict[str, str]:
    return {k: os.environ[k] for k in _WORKER_ENV if k in os.environ}


class WorkerProcess:
    """One worker. Not thread-safe: the container serialises commands.

    `launcher="zygote"` forks it from the fork server (fast, shares memory); `"exec"` starts a
    fresh interpreter (the fallback, and what the zygote itself is)."""

    def __init__(self, limits: WorkerLimits | None = None, launcher: str = "zygote") -> None:
        self.limits = limits or WorkerLimits()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        cfg = {"address_space": self.limits.address_space, "open_files": self.limits.open_files,
               "seccomp": self.limits.seccomp}
        self.proc: subprocess.Popen | ForkedProc
        if launcher == "zygote" and not self.limits.extra_env:
            self.proc = default_zygote().spawn(cfg, self._stderr.fileno())
        else:
            # the worker inherits nothing of the host's environment (database URLs, keys, tokens)
            env = _worker_env()
            env["MINIBOX_WORKER_LIMITS"] = json.dumps(cfg)
            env.update(self.limits.extra_env)
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "minibox.runtime.worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
                close_fds=True, start_new_session=True, cwd=_EMPTY_DIR,
            )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self._reader = _FrameReader(self.proc.stdout.fileno())
        self.dead = False
        self.last_error: str | None = None
        #: what the last command cost: engine CPU and host time spent on its API calls
        self.last_engine_s = 0.0
        self.last_host_s = 0.0
        self.niced = False
        self._stat_fd: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def request(self, message: dict[str, Any], on_call: CallHandler, budget: float | None = None) -> dict:
        """Send one command; answer API calls until the worker is done; enforce the budget."""
        if self.dead:
            raise WorkerCrashed(self.last_error or "worker is not running")
        budget = self.limits.cpu_budget if budget is None else budget
        spent_on_host = 0.0
        start = time.monotonic()
        cpu_start = self.cpu_seconds()
        self.last_host_s = self.last_engine_s = 0.0

        def deadline() -> float:
            return start + budget + spent_on_host

        try:
            data = protocol.encode(message)
        except protocol.FrameError as exc:  # e.g. a view event too deep to send: the worker goes on
            raise ScriptError(f"Error: the command could not be sent to the sandbox: {exc}") from None
        try:
            self._write(data)
            while True:
                frame = self._reader.read(deadline)
                if not isinstance(frame, dict):
                    raise WorkerProtocolError("worker sent a frame that is not an object")
                kind = frame.get("t")
                if kind == "done":
                    return self._check_done(frame)
                if kind != "call":
                    raise WorkerProtocolError(f"worker sent an unknown frame type {kind!r}")
                t0 = time.monotonic()
                api = str(frame.get("api"))
                reply = on_call(api, frame.get("args"))
                spent_on_host += time.monotonic() - t0
                try:
                    data = protocol.encode({"t": "reply", **reply})
                except protocol.FrameError:
                    data = protocol.encode({"t": "reply", "err": {
                        "errMsg": f"{api}:fail the result is too large or too deeply nested to return"}})
                self._write(data)
        except TimeoutError:
            self.kill(f"exceeded its CPU budget of {budget:g}s")
            raise ScriptTimeout(
                f"mini-program code ran longer than its budget of {budget:g}s and was stopped"
            ) from None
        except (EOFError, BrokenPipeError):
            self._reap()
            raise WorkerCrashed(self.last_error or "worker exited") from None
        except WorkerProtocolError as exc:
            self.kill(str(exc))
            raise
        except InstanceOverBudget as exc:  # raised by on_call: the meter stops the instance
            self.kill(str(exc))
            raise
        finally:
            cpu_end = self.cpu_seconds() if not self.dead else None
            wall = time.monotonic() - start
            self.last_host_s = spent_on_host
            if cpu_start is not None and cpu_end is not None:
                self.last_engine_s = max(0.0, cpu_end - cpu_start)
            else:  # a killed worker's CPU is gone with it: count its wall time
                self.last_engine_s = max(0.0, wall - spent_on_host)

    def deprioritize(self) -> None:
        """Run the worker at the lowest CPU priority (an instance spending its time budget fast)."""
        if self.dead or self.niced:
            return
        self.niced = True
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.proc.pid, 19)

    def cpu_seconds(self) -> float | None:
        """CPU time the worker process has used so far, if the OS says (Linux: schedstat, read
        through a descriptor kept open, a few microseconds)."""
        try:
            if self._stat_fd is None:
                self._stat_fd = os.open(f"/proc/{self.proc.pid}/schedstat", os.O_RDONLY)
            return int(os.pread(self._stat_fd, 128, 0).split()[0]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def _check_done(self, frame: dict[str, Any]) -> dict[str, Any]:
        err = frame.get("error")
        if not err:
            return frame
        kind = err.get("type")
        if kind == "oom":
            self.kill(err.get("message", "out of memory"))
            raise ScriptOutOfMemory(err.get("message", "out of memory"))
        if kind == "script":
            raise ScriptError(err.get("message", ""), err.get("stack", ""))
        raise WorkerProtocolError(err.get("message", "protocol error"))

    def _send(self, message: dict[str, Any]) -> None:
        self._write(protocol.encode(message))

    def _write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _reap(self) -> None:
        self.dead = True
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode(errors="replace").strip().splitlines()
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            self.last_error = f"worker killed by {name}"
        elif code:
            self.last_error = f"worker exited with status {code}"
        else:
            self.last_error = "worker exited"
        if tail:
            self.last_error += f": {tail[-1]}"

    def kill(self, reason: str) -> None:
        if self.dead:
            return
        self.dead = True
        self.last_error = reason
        if isinstance(self.proc, ForkedProc):
            self.proc.kill()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        """Stop the worker. It holds no state worth a graceful exit (storage lives in the host)."""
        self.kill("closed")
        if self._stat_fd is not None:
            os.close(self._stat_fd)
            self._stat_fd = None
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            if stream is not None:
                stream.close()
