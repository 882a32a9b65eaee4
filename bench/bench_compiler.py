"""Compiler benchmark: compile a 1,000-node page (vs. reading the same files), and render a 1,000-item
wx:for list in QuickJS (vs. JSON round-tripping the same data in the same context).

Run: .venv/bin/python bench/bench_compiler.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import quickjs

from minibox.compiler import compile_to_memory, expr

ROWS = 1000
RUNS = 5


def page_wxml(rows: int) -> str:
    """A page with `rows` static-ish rows (each a view with bindings) = about `rows` element nodes."""
    items = "\n".join(
        f'  <view class="row r{i} {{{{cls}}}}" data-id="{i}" bindtap="onTap">{{{{title}}}} #{i} {{{{list[{i % 10}].name}}}}</view>'
        for i in range(rows)
    )
    return f'<view class="page">\n{items}\n</view>\n'


LIST_WXML = (
    '<view class="list"><view wx:for="{{items}}" wx:key="id" class="row {{item.done ? \'done\' : \'\'}}" '
    'data-id="{{item.id}}" bindtap="onTap"><text class="name">{{item.name}}</text>'
    '<text wx:if="{{item.price > 10}}" class="price">{{item.price}}</text></view></view>'
)


def write(root: Path, wxml: str) -> None:
    files = {
        "app.json": json.dumps({"pages": ["pages/index/index", "pages/list/list"]}),
        "app.js": "App({})",
        "pages/index/index.js": "Page({})",
        "pages/index/index.wxml": wxml,
        "pages/list/list.js": "Page({})",
        "pages/list/list.wxml": LIST_WXML,
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def best(fn, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write(root, page_wxml(ROWS))
        files = [p for p in root.rglob("*") if p.is_file()]
        t_read = best(lambda: [p.read_bytes() for p in files])
        t_compile = best(lambda: (expr.parse.cache_clear(), compile_to_memory(root)))  # cold parse cache
        bundle = compile_to_memory(root)
    print(
        f"compile 1,000-node page: {t_compile * 1e3:8.2f} ms   read same files: {t_read * 1e3:8.3f} ms"
        f"   ratio {t_compile / t_read:,.0f}x"
    )

    ctx = quickjs.Context()
    ctx.eval(bundle.render_js)
    data = {
        "items": [{"id": i, "name": f"item {i}", "price": i % 20, "done": i % 3 == 0} for i in range(ROWS)]
    }
    ctx.set("__d", json.dumps(data))
    ctx.eval("var D = JSON.parse(__d);")
    n_nodes = ctx.eval(
        '(function c(l){var n=0;for(var x of l){n++;if(x.c)n+=c(x.c)}return n})(__mb.render("pages/list/list", D))'
    )
    t_render = best(lambda: ctx.eval('__mb.render("pages/list/list", D).length'), 20)
    t_json = best(lambda: ctx.eval("JSON.parse(JSON.stringify(D)).items.length"), 20)
    t_big = best(
        lambda: ctx.eval('__mb.render("pages/index/index", {title: "t", cls: "c", list: D.items}).length'), 20
    )
    print(
        f"render 1,000-item wx:for ({n_nodes} VNodes): {t_render * 1e3:6.2f} ms   "
        f"JSON round-trip of the data: {t_json * 1e3:6.2f} ms   ratio {t_render / t_json:.1f}x"
    )
    print(f"render the 1,000-node static page: {t_big * 1e3:6.2f} ms")


if __name__ == "__main__":
    main()
