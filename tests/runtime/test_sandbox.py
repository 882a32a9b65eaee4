"""The outer wall: the worker process's seccomp filter, rlimits, environment and lifecycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minibox.runtime import seccomp
from minibox.runtime.pool import WorkerPool
from minibox.runtime.sandbox import WorkerLimits
from minibox.testing import launch

PROBE = r"""
import json, os, socket, quickjs
from minibox.runtime import seccomp
seccomp.install()
out = {}
probes = {
    "socket": lambda: socket.socket(),
    "open": lambda: open("/etc/hostname"),
    "fork": lambda: os.fork(),
    "exec": lambda: os.execv("/bin/true", ["true"]),
    "mkdir": lambda: os.mkdir("/tmp/minibox-seccomp-probe"),
    "kill": lambda: os.kill(1, 0),
    "symlink": lambda: os.symlink("/etc/passwd", "/tmp/minibox-seccomp-link"),
    "unlink": lambda: os.unlink("/tmp/anything"),
    "setuid": lambda: os.setuid(0),
}
for name, fn in probes.items():
    try:
        fn()
        out[name] = "allowed"
    except OSError as e:
        out[name] = e.errno
out["js"] = quickjs.Context().eval("[1, 2, 3].map(x => x * 2).join()")
out["alloc"] = len(bytearray(20_000_000))
print(json.dumps(out))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="seccomp is Linux-only")
def test_seccomp_filter_refuses_files_network_processes() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out.pop("js") == "2,4,6" and out.pop("alloc") == 20_000_000
    assert out == dict.fromkeys(out, 1), out  # every probe: EPERM
    assert not Path("/tmp/minibox-seccomp-probe").exists()


def test_filter_program_is_well_formed() -> None:
    for machine in ("x86_64", "aarch64"):
        program = seccomp.build_filter(machine)
        assert len(program) % 8 == 0 and len(program) // 8 < 4096
    with pytest.raises(seccomp.SeccompUnavailable):
        seccomp.build_filter("sparc")


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def test_worker_has_limits_no_secrets_and_no_privileges(make_project, monkeypatch) -> None:
    monkeypatch.setenv("MINIBOX_TEST_SECRET", "s3cr3t")
    project = make_project({"pages/p/p.wxml": "<view/>"})
    with launch(project) as mp:
        pid = mp.instance.worker_pid
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"s3cr3t" not in environ and b"MINIBOX_TEST_SECRET" not in environ
        status = _proc(pid, "status")
        assert "NoNewPrivs:\t1" in status
        assert "Seccomp:\t2" in status  # filter mode
        limits = _proc(pid, "limits")
        as_line = next(line for line in limits.splitlines() if line.startswith("Max address space"))
        assert str(WorkerLimits().address_space) in as_line
        assert os.readlink(f"/proc/{pid}/cwd").startswith("/tmp/minibox-worker-")
        assert os.getpgid(pid) != os.getpgid(0)  # its own process group: killed as a whole


def test_closing_an_instance_ends_its_worker(make_project) -> None:
    project = make_project({"pages/p/p.wxml": "<view/>"})
    mp = launch(project)
    pid = mp.instance.worker_pid
    mp.close()
    with pytest.raises(OSError):
        os.kill(pid, 0)


def test_pool_hands_out_fresh_workers_only_once() -> None:
    pool = WorkerPool(size=1)
    try:
        a = pool.acquire(WorkerLimits())
        b = pool.acquire(WorkerLimits())
        assert a.pid != b.pid
        assert pool.hits == 1 and pool.misses == 1
        a.kill("test")
        c = pool.acquire(WorkerLimits(open_files=32))  # other limits: another kind of worker
        assert pool.misses == 2 and c.pid not in (a.pid, b.pid)
        b.close()
        c.close()
    finally:
        pool.close()


def test_fork_server_restarts_when_killed(make_project) -> None:
    from minibox.runtime import sandbox

    project = make_project({"pages/p/p.wxml": "<view>{{n}}</view>", "pages/p/p.js": "Page({ data: {n: 5} })"})
    zygote = sandbox.default_zygote()
    os.killpg(zygote.proc.pid, 9)
    zygote.proc.wait()
    with launch(project) as mp:  # pooled workers of the dead zygote may already exist: both work
        assert mp.current_page.data["n"] == 5
    assert sandbox.default_zygote() is not zygote
    assert sandbox.default_zygote().alive


def test_exec_launcher_still_works() -> None:
    from minibox.runtime.sandbox import WorkerProcess

    worker = WorkerProcess(WorkerLimits(), launcher="exec")
    try:
        assert worker.proc.poll() is None
    finally:
        worker.close()
    assert worker.proc.poll() is not None
