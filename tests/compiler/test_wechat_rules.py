"""WeChat's rules for what its compiler accepts (measured by test_wcc_differential.py), run end to end:
the page compiles with warnings and behaves as it does on a phone."""

from __future__ import annotations

from minibox.compiler import compile_to_memory
from minibox.testing import launch

PAGE = "pages/index/index"


def test_empty_handlers_duplicates_unknown_directives_and_missing_imports(project) -> None:
    root = project({
        f"{PAGE}.wxml": '<import src="missing.wxml"/><include src="gone.wxml"/>'
                        '<view id="outer" bindtap="outer">'
                        '<view id="catch" catchtap="">c</view><view id="bind" bindtap="">b</view>'
                        '<view id="bindTap" bindTap="">B</view>'
                        '<view id="dup" class="first" class="last" wx:show="{{false}}">d</view>'
                        '<view id="if" wx:if="{{false}}" wx:if="{{true}}">shown</view>'
                        "</view>",
        f"{PAGE}.js": "Page({ data: { n: 0 }, outer() { this.setData({ n: this.data.n + 1 }) } })",
    })
    bundle = compile_to_memory(root)
    assert not bundle.errors
    codes = sorted({w.code for w in bundle.warnings})
    assert codes == ["wxml-directive", "wxml-duplicate", "wxml-event", "wxml-import", "wxml-include"]
    with launch(root) as mp:
        page = mp.current_page
        page.query_selector("#catch").tap()  # catchtap="": nothing called, the tap stops there
        assert page.data["n"] == 0
        page.query_selector("#bind").tap()  # bindtap="": does nothing, the tap bubbles on
        assert page.data["n"] == 1
        assert not [x for x in mp.logs if "does not have a method" in str(x)]  # and silently, as WeChat
        assert page.query_selector("#dup").classes == ["last"]  # the last duplicate wins
        assert page.query_selector("#dup").text == "d"  # wx:show is ignored
        assert page.query_selector("#if").text == "shown"
