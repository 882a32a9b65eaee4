"""The framework loaded before an instance is known, so that a launch does not pay for it.

The fork server (`minibox.runtime.zygote`) calls `preload` once: every worker it forks inherits an
engine with the bridge gate and the framework already evaluated (copy-on-write), and a worker
started on its own (`python -m minibox.runtime.worker`) calls it before it locks itself down. The
host's `init` command then sends only the bundle (`"framework": "preloaded"`), and `take` hands the
engine to the one instance the worker serves, with the instance's limits.

What is preloaded is the platform's own code, never a mini-program's: the bridge gate
(`worker.BRIDGE_BOOTSTRAP`), `RANDOM_JS` and the framework's files.

`Math.random`: QuickJS seeds its generator when the engine is made, so every worker forked from
one preloaded engine would draw the same numbers. `RANDOM_JS` replaces it, before the framework
loads, with xoshiro128** (a generator of the same kind as the browsers'), which `take` seeds from
the OS (`os.urandom`) in each worker before any mini-program code runs.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from minibox.runtime.bundle import framework_sources
from minibox.runtime.engine import Engine, EngineLimits

RANDOM_JS = r"""
(function () {
  "use strict";
  var s0 = 0, s1 = 0, s2 = 0, s3 = 0, imul = Math.imul;
  function rotl(x, k) { return (x << k) | (x >>> (32 - k)); }
  function next() {  /* xoshiro128**: 32 random bits */
    var r = imul(rotl(imul(s1, 5), 7), 9) >>> 0, t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
    return r;
  }
  /* 53 random bits in [0, 1), as the browsers' Math.random; a method, so not a constructor */
  var random = { random() { return ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992; } }.random;
  Object.defineProperty(Math, "random", { value: random, writable: true, enumerable: false, configurable: true });
  Object.defineProperty(globalThis, "__mbSeedRandom", { configurable: true, value: function (a, b, c, d) {
    delete globalThis.__mbSeedRandom;
    s0 = a | 0; s1 = b | 0; s2 = c | 0; s3 = d | 0;
    if ((s0 | s1 | s2 | s3) === 0) s0 = 1;  /* the one state xoshiro never leaves */
    for (var i = 0; i < 8; i++) next();
  } });
})();
"""


class _Bridge:
    """The engine's host function, bound to the worker that takes the engine."""

    def __init__(self) -> None:
        self.target: Callable[[str], str] | None = None

    def call(self, payload: str) -> str:
        if self.target is None:  # the framework does not call the host while it loads
            return '{"err":{"errMsg":"bridge:fail not ready"}}'
        return self.target(payload)


_ready: tuple[Engine, _Bridge] | None = None


def _make(bootstrap: str) -> tuple[Engine, _Bridge]:
    engine, bridge = Engine(), _Bridge()
    engine.expose("__mb_raw_host_call", bridge.call)
    engine.eval(bootstrap, "bridge.js")
    engine.eval(RANDOM_JS, "random.js")
    for name, text in framework_sources():
        engine.eval(text, name)
    return engine, bridge


def preload(bootstrap: str) -> None:
    """Make the engine and load the framework, once per process (`bootstrap`: the bridge gate)."""
    global _ready
    if _ready is None:
        _ready = _make(bootstrap)


def take(bootstrap: str, host_call: Callable[[str], str], limits: EngineLimits) -> Engine:
    """The preloaded engine (made now if there is none), for one instance: its limits applied,
    its bridge calling `host_call`, its `Math.random` seeded. An engine is taken once."""
    global _ready
    ready, _ready = _ready, None
    engine, bridge = ready if ready is not None else _make(bootstrap)
    engine.set_limits(limits)
    bridge.target = host_call
    seed = struct.unpack("<4i", os.urandom(16))
    engine.eval("__mbSeedRandom(%d, %d, %d, %d)" % seed, "seed.js")
    return engine
