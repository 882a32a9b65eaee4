"""Workers start with the framework loaded (minibox.runtime.preload) and get the bundle's sources
as raw bytes after the init frame (protocol.BLOBS)."""

from __future__ import annotations

import io

import pytest

from minibox.runtime import protocol
from minibox.runtime.errors import WorkerProtocolError
from minibox.testing import launch

RANDOM_PAGE = {
    "pages/p/p.wxml": "<view>{{draws}}</view>",
    "pages/p/p.js": """Page({ data: { draws: [] }, onLoad() {
      const r = Math.random, draws = [];
      for (let i = 0; i < 1000; i++) draws.push(r());
      let ctor;
      try { new r(); ctor = 'constructed'; } catch (e) { ctor = e.constructor.name; }
      this.setData({ draws: draws.slice(0, 4), ok: draws.every((x) => x >= 0 && x < 1), distinct: new Set(draws).size,
                     mean: draws.reduce((a, b) => a + b, 0) / draws.length, name: r.name, length: r.length, ctor,
                     own: Object.getOwnPropertyDescriptor(Math, 'random').enumerable });
    } })""",
}


def test_math_random_differs_between_workers_forked_from_one_preloaded_engine(make_project) -> None:
    """QuickJS seeds its generator when an engine is made; every worker forked from the fork server
    inherits the same engine, so Math.random is reseeded in each worker, from the OS."""
    project = make_project(RANDOM_PAGE)
    seen = []
    for _ in range(3):
        with launch(project) as mp:
            data = mp.current_page.data
            assert data["ok"] and data["distinct"] == 1000 and 0.4 < data["mean"] < 0.6
            assert (data["name"], data["length"], data["ctor"], data["own"]) == ("random", 0, "TypeError", False)
            seen.append(tuple(data["draws"]))
    assert len(set(seen)) == 3


def test_init_sources_travel_as_raw_bytes_after_the_frame() -> None:
    render = 'var s = "\\u00e9 é [[[[ {{{{ \\" \\\\";\n'.encode()  # quotes, brackets, escapes: never parsed
    frame = protocol.encode({"cmd": "init", "sources": [["render.js", 0], ["logic.js", 1]], "blobs": [render, b""]})
    assert len(frame) < 100 + len(render) and b"\0" + render in frame
    msg = protocol.read_frame(io.BytesIO(frame))
    assert msg["blobs"] == [render, b""] and msg["sources"] == [["render.js", 0], ["logic.js", 1]]
    body = frame[4:]
    with pytest.raises(protocol.FrameError):  # what only the worker's reader takes: never JSON
        protocol.loads(body)
    for bad in (body[:-1], body + b"x", body.replace(b'"blobs":[', b'"blobz":[')):
        with pytest.raises(protocol.FrameError):
            protocol.read_frame(io.BytesIO(protocol.frame(bad)))
    with pytest.raises(protocol.FrameError):
        protocol.encode({"cmd": "init", "blobs": ["text"]})


def test_a_worker_cannot_send_raw_bytes_to_the_host() -> None:
    import os
    import time

    from minibox.runtime.sandbox import _FrameReader

    r, w = os.pipe()
    try:
        os.write(w, protocol.encode({"t": "done", "blobs": [b"x"]}))
        with pytest.raises(WorkerProtocolError):
            _FrameReader(r).read(lambda: time.monotonic() + 5)
    finally:
        os.close(r)
        os.close(w)
