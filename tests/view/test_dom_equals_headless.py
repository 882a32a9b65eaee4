"""The browser DOM equals the headless tree, for every page of every example."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from minibox.testing import launch
from minibox.view.devserver import DevServer

from .conftest import EXAMPLES, PROJECTS, Sim, dom_mismatches, serve, tree_diff, wait_for

pytestmark = pytest.mark.browser

#: Pages and the launch query that gives each one content.
CASES = [
    ("todo", "pages/index/index", ""), ("todo", "pages/stats/stats", "total=4&done=1"),
    ("shop", "pages/home/home", ""), ("shop", "pages/detail/detail", "id=p2"), ("shop", "pages/cart/cart", ""),
    ("shop", "pages/mine/mine", ""), ("widgets", "pages/index/index", ""), ("widgets", "pages/other/other", "from=x"),
]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, DevServer]]:
    gens = {name: serve(root) for name, root in
            (("todo", EXAMPLES / "todo"), ("shop", EXAMPLES / "shop"), ("widgets", PROJECTS / "widgets"))}
    out = {name: next(g) for name, g in gens.items()}
    yield out
    for g in gens.values():
        next(g, None)


def _headless(project: str, path: str, query: str) -> dict[str, Any]:
    root = EXAMPLES / project if project != "widgets" else PROJECTS / project
    with launch(root, path=path, query=query, virtual_time=False) as mp:
        mp.wait_idle()
        return mp.view.pages[mp.current_page.id].root.to_dict()


@pytest.mark.parametrize(("project", "path", "query"), CASES)
def test_browser_dom_equals_headless_tree(servers: dict[str, DevServer], context: Any, project: str, path: str,
                                         query: str) -> None:
    page = context.new_page()
    try:
        sim = Sim(servers[project], page)
        sim.open(path, query.replace("&", "%26"))
        pid = sim.top_page_id()
        sim.settle()
        browser_tree = wait_for(lambda: sim.page.evaluate("id => window.__mbView.snapshot(id)", pid), "snapshot")
        mirror = sim.session.mirror.pages[pid].root.to_dict()
        assert tree_diff(browser_tree, mirror) is None
        assert tree_diff(browser_tree, _headless(project, path, query)) is None
        assert dom_mismatches(sim, pid) == []
    finally:
        page.close()
