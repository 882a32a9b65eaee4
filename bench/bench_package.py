"""Package figures: pack, verify and cold launch from a package, with each step's share.

For every example app (compiled with `minibox.compiler`) and a synthetic 2 MB bundle:
- pack (signed; signed + encrypted for one host) vs a baseline `zipfile` deflate of the same files
  plus SHA-256 of each;
- verify + unpack (the full sequence) vs a baseline "plain unzip + SHA-256" of that zip into a
  fresh directory; the share of each verification step (from `verify_and_unpack(timings=...)`);
- cold launch in a fresh process: `Updater.load` from the cache (full verification, decrypt,
  unpack, then read bundle.json and logic.js) vs reading the same files from an already unpacked
  directory in a fresh process.
Run: `.venv/bin/python bench/bench_package.py`. Medians of several runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from minibox.package import HostKeyPair, SigningKey, TrustStore, pack, verify_and_unpack
from minibox.package.pack import read_bundle

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(microsecond=0)
RUNS = 7
LAUNCH_RUNS = 5


def median(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def synthetic_bundle(root: Path, target: int = 2 * 1024 * 1024) -> Path:
    """A ~2 MB compiled bundle: JS and CSS text (compressible) plus binary assets."""
    rng = random.Random(7)
    words = ["setData", "this", "data", "function", "return", "items", "index", "wx", "page", "onTap", "value"]
    js = "".join(f"__mbDefine('m{i}.js', function (require, module, exports) {{ var {rng.choice(words)}{i} = "
                 f"'{' '.join(rng.choice(words) for _ in range(12))}'; }});\n" for i in range(5000))
    files = {
        "bundle.json": json.dumps({"format": 1, "app": {"pages": ["pages/index/index"], "subpackages": []},
                                   "entryPage": "pages/index/index", "pages": {}, "components": {}, "files": {}}).encode(),
        "logic.js": js.encode(),
        "render.js": js[: len(js) // 2].encode(),
        "styles/app.css": "".join(f".c{i} {{ margin: {i % 20}px; color: #{i:06x}; }}\n" for i in range(4000)).encode(),
    }
    size = sum(map(len, files.values()))
    i = 0
    while size < target:
        chunk = rng.randbytes(min(150_000, target - size))
        files[f"assets/images/img{i}.png"] = chunk
        size += len(chunk)
        i += 1
    for rel, data in files.items():
        path = root.joinpath(*rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def zip_baseline(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for rel, data in files.items():
            hashlib.sha256(data).hexdigest()
            zf.writestr(rel, data)
    return buf.getvalue()


def unzip_baseline(blob: bytes, dest: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        for info in zf.infolist():
            data = zf.read(info)
            hashlib.sha256(data).hexdigest()
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


LAUNCH_PKG = """
import sys, time
t = time.perf_counter()
from pathlib import Path
from minibox.host.update import Updater
from minibox.package import TrustStore, HostKeyPair
trust = TrustStore(Path(sys.argv[1]))
up = Updater("http://127.0.0.1:1", "bank", "k", trust, Path(sys.argv[2]), HostKeyPair.load(Path(sys.argv[3])))
pkg = up.load("wxbench")
(pkg.path / "bundle.json").read_bytes(); (pkg.path / "logic.js").read_bytes()
print(time.perf_counter() - t)
"""
LAUNCH_DIR = """
import sys, time
t = time.perf_counter()
from pathlib import Path
from minibox.package import TrustStore
d = Path(sys.argv[1])
(d / "bundle.json").read_bytes(); (d / "logic.js").read_bytes()
print(time.perf_counter() - t)
"""


def launch(script: str, *args: str) -> float:
    times = []
    for _ in range(LAUNCH_RUNS):
        out = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def bench_app(name: str, bundle: Path, work: Path, signer: SigningKey, host: HostKeyPair) -> dict[str, object]:
    files = read_bundle(bundle)
    raw_size = sum(map(len, files.values()))
    recipients = {"bank": host.public_bytes()}
    args = {"app_id": "wxbench", "version": "1.0.0", "build": 1, "signer": signer, "created_at": NOW,
            "expires_at": NOW + timedelta(days=30)}
    t_zip = median(lambda: zip_baseline(files))
    t_pack = median(lambda: pack(bundle, **args))
    t_pack_enc = median(lambda: pack(bundle, recipients=recipients, **args))
    data = pack(bundle, recipients=recipients, **args)
    blob = zip_baseline(files)

    trust_dir = work / f"trust-{name}"
    trust = TrustStore.for_keys(trust_dir, [signer])
    counter = iter(range(10**6))
    steps: dict[str, float] = {}

    def verify_once() -> None:
        timings: dict[str, float] = {}
        verify_and_unpack(data, trust=trust, host_id="bank", host_private_key=host,
                          dest=work / f"v-{name}-{next(counter)}", timings=timings)
        for step, seconds in timings.items():
            steps[step] = steps.get(step, 0.0) + seconds

    t_verify = median(verify_once)
    t_unzip = median(lambda: unzip_baseline(blob, work / f"z-{name}-{next(counter)}"))

    # cold launch: a fresh process loads the app from the package cache (full verification)
    cache = work / f"cache-{name}"
    (cache / "packages").mkdir(parents=True)
    (cache / "apps").mkdir()
    sha = hashlib.sha256(data).hexdigest()
    (cache / "packages" / f"{sha}.mbx").write_bytes(data)
    (cache / "apps" / "wxbench.json").write_text(json.dumps({"sha256": sha, "build": 1}))
    host_file = work / f"host-{name}.pem"
    host_file.write_bytes(host.private_pem())
    t_launch = launch(LAUNCH_PKG, str(trust_dir), str(cache), str(host_file))
    t_launch_dir = launch(LAUNCH_DIR, str(bundle))
    total = sum(steps.values())
    return {"name": name, "files": len(files), "raw": raw_size, "mbx": len(data), "zip": len(blob),
            "pack": t_pack, "pack_enc": t_pack_enc, "zip_t": t_zip, "verify": t_verify, "unzip": t_unzip,
            "launch": t_launch, "launch_dir": t_launch_dir,
            "shares": {k: v / total for k, v in steps.items()}}


def main() -> None:
    console = Console(width=170)
    signer, host = SigningKey.generate(), HostKeyPair.generate()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundles: list[tuple[str, Path]] = []
        try:
            from minibox.compiler import compile_project

            for src in sorted((ROOT / "examples").iterdir()):
                if (src / "app.json").is_file():
                    out = work / f"compiled-{src.name}"
                    compile_project(src, out)
                    bundles.append((src.name, out))
        except ImportError:
            console.print("compiler not available: example apps skipped")
        bundles.append(("synthetic-2MB", synthetic_bundle(work / "synthetic")))
        for name, bundle in bundles:
            results.append(bench_app(name, bundle, work, signer, host))
            shutil.rmtree(work / f"cache-{name}", ignore_errors=True)

    ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    table = Table(title="minibox packages (medians; ratios against a baseline measured in the same run)")
    for col in ("app", "files", "bundle", ".mbx (enc)", "zip", "pack", "pack+encrypt", "vs zip+sha256",
                "verify+unpack", "vs unzip+sha256", "cold launch", "vs plain dir"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r["name"], str(r["files"]), f"{r['raw'] / 1024:.0f} KiB", f"{r['mbx'] / 1024:.0f} KiB",
                      f"{r['zip'] / 1024:.0f} KiB", ms(r["pack"]), ms(r["pack_enc"]),
                      f"{r['pack_enc'] / r['zip_t']:.2f}x", ms(r["verify"]), f"{r['verify'] / r['unzip']:.2f}x",
                      ms(r["launch"]), f"{r['launch'] / r['launch_dir']:.1f}x")
    console.print(table)
    steps = Table(title="share of each verification step (encrypted package)")
    steps.add_column("app")
    names = list(results[0]["shares"])
    for step in names:
        steps.add_column(step, justify="right")
    for r in results:
        steps.add_row(r["name"], *[f"{r['shares'].get(s, 0) * 100:.0f}%" for s in names])
    console.print(steps)
    console.print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
                  f"{datetime.now(UTC):%Y-%m-%d}. Cold launch = fresh process: Updater.load from the cache "
                  "(verify, decrypt, unpack) + read bundle.json and logic.js; baseline reads them from a "
                  "plain directory (interpreter start excluded from both).")


if __name__ == "__main__":
    main()
