"""The fork server: one process that has imported the engine and the worker, forking a fresh
worker per instance. Forked workers share the interpreter's pages copy-on-write (about a third
of a fresh interpreter's memory each) and start in a few milliseconds.

Protocol on the Unix socket: the host sends the worker's limits as JSON with three file
descriptors (stdin read end, stdout write end, stderr file) attached; the zygote answers with the
child's pid as 4 bytes. The zygote never runs mini-program code; each child locks itself down
(rlimits, no_new_privs, seccomp) before it reads its first frame. The zygote has loaded the
framework into an engine first (`minibox.runtime.preload`): a child starts with it loaded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

from minibox.runtime import preload, worker

_PID = struct.Struct("i")


def _child(cfg: dict, fds: list[int], sock: socket.socket) -> None:
    sock.close()
    os.setsid()
    os.dup2(fds[0], 0)
    os.dup2(fds[1], 1)
    os.dup2(fds[2], 2)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 0
    try:
        inp = open(0, "rb", closefd=False)  # noqa: SIM115 - fd 0 lives as long as the process
        out = open(1, "wb", closefd=False)  # noqa: SIM115
        sys.stdout = sys.stderr
        worker.serve(cfg, inp, out)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # report, then exit: never return into the zygote's loop
        print(f"minibox worker: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    finally:
        os._exit(code)


def serve(sock: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 65536, 3)
        except (ConnectionError, OSError):
            return
        if not msg:
            return
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            sock.sendall(_PID.pack(-1))
            continue
        pid = os.fork()
        if pid == 0:
            _child(json.loads(msg), fds, sock)
        for fd in fds:
            os.close(fd)
        sock.sendall(_PID.pack(pid))


def main() -> None:
    fd = int(sys.argv[1])
    preload.preload(worker.BRIDGE_BOOTSTRAP)  # every child inherits the framework, loaded (preload)
    serve(socket.socket(fileno=fd))


if __name__ == "__main__":
    main()
