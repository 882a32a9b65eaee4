"""Sample compiled bundles for the package tests (written the way docs/internals.md section 1 says)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
CREATED = NOW - timedelta(days=1)
EXPIRES = NOW + timedelta(days=30)


def bundle_json(subpackages: bool = True) -> bytes:
    pages = {"pages/index/index": {"json": {}, "usingComponents": {}, "subpackage": None}}
    app: dict = {"pages": ["pages/index/index"], "window": {"navigationBarTitleText": "Demo"}, "subpackages": []}
    if subpackages:
        app["subpackages"] = [{"root": "packageA", "pages": ["pages/a/a"]}]
        pages["packageA/pages/a/a"] = {"json": {}, "usingComponents": {}, "subpackage": "packageA/"}
    doc = {"format": 1, "app": app, "entryPage": "pages/index/index", "pages": pages, "components": {},
           "files": {}}
    return json.dumps(doc, sort_keys=True, indent=1).encode()


def sample_files(*, subpackages: bool = True, seed: int = 1, asset_size: int = 3000) -> dict[str, bytes]:
    rng = random.Random(seed)
    files = {
        "bundle.json": bundle_json(subpackages),
        "logic.js": (
            '__mbDefine("app.js", function (require, module, exports) { App({ onLaunch() {} }); });\n'
            '__mbDefine("pages/index/index.js", function (require, module, exports) {\n'
            "  Page({ data: { motto: '你好, minibox' }, onTap() { this.setData({ n: 1 }); } });\n"
            "});\n"
        ).encode(),
        "render.js": b'globalThis.__mb = globalThis.__mb || {};\n__mb.render = function (p, d) { return [{x: d.motto}]; };\n',
        "styles/app.css": b"page { background: #fff; }\n" * 40,
        "styles/pages/index/index.css": b".motto { color: red; }\n",
        "assets/images/logo.png": b"\x89PNG\r\n\x1a\n" + rng.randbytes(asset_size),
        "assets/fonts/\u6c49\u5b57.ttf": rng.randbytes(500),
    }
    if subpackages:
        files["styles/packageA/pages/a/a.css"] = b".a { margin: 0 }\n"
        files["assets/packageA/images/banner.jpg"] = b"\xff\xd8\xff" + rng.randbytes(asset_size)
    return files


def write_bundle(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        target = root.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root
