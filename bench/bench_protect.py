"""Code protection benchmark: protect the logic.js of @vant/weapp (every component, 1.11.7, from the npm
registry, cached) and of the examples, beside the compile of the same project as the baseline.

Run: .venv/bin/python bench/bench_protect.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from minibox.compiler import compile_project
from minibox.compiler.protect import Minifier, protect_bundle

ROOT = Path(__file__).resolve().parents[1]


def vant_project(dest: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.components.vant import build_vant_project, vant_components, vant_lib

    comps = vant_components(vant_lib())
    return build_vant_project(dest, {"all": "<view/>"}, using={f"van-{c}": c for c in comps})


def measure(name: str, src: Path, work: Path, minifier: Minifier) -> None:
    out = work / name
    started = time.perf_counter()
    compile_project(src, out)
    compiled = time.perf_counter() - started
    started = time.perf_counter()
    protection, doc = protect_bundle(out, minifier=minifier)
    took = time.perf_counter() - started
    per = 1000 * took / max(protection.modules, 1)
    print(f"{name:10} {protection.protected:4}/{protection.modules:<4} modules  protect {took:6.2f} s "
          f"({per:5.1f} ms/module)  compile {compiled:5.2f} s  logic.js {protection.bytes_before:>9,} -> "
          f"{protection.bytes_after:>9,} B  maps {len(json.dumps(doc)):>9,} B  skipped {len(protection.warnings)}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Minifier() as minifier:
        work = Path(tmp)
        started = time.perf_counter()
        minifier.minify("\nvar warm = 1;")
        print(f"terser loaded into QuickJS in {time.perf_counter() - started:.2f} s")
        for example in ("todo", "shop", "wealth"):
            measure(example, ROOT / "examples" / example, work, minifier)
        measure("vant", vant_project(work / "vant-src"), work, minifier)


if __name__ == "__main__":
    main()
