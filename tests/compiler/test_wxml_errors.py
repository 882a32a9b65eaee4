"""Malformed WXML: typed errors naming file:line:col, every error of every file reported together."""

from __future__ import annotations

from minibox.compiler import CompileError, CompileErrors, compile_to_memory

P = "pages/index/index.wxml"


def one(errors, wxml: str) -> list[str]:
    return errors({P: wxml})


def warnings_of(project, files: dict[str, str]) -> list[str]:
    """What WeChat accepts compiles (no error) and is reported as a warning."""
    bundle = compile_to_memory(project(files))
    assert not bundle.errors
    return [str(w) for w in bundle.warnings]


def test_unclosed_tag_names_its_position(errors):
    assert one(errors, "<view>\n  <text>hi\n</view>") == [
        f"{P}:2:3: <text> is not closed (found </view>) [wxml-syntax]"
    ]


def test_unclosed_at_end_of_file(errors):
    assert one(errors, "<view><text>x</text>") == [f"{P}:1:1: <view> is not closed [wxml-syntax]"]


def test_stray_end_tag(errors):
    assert one(errors, "<view></view></text>") == [
        f"{P}:1:14: end tag </text> has no matching start tag [wxml-syntax]"
    ]


def test_mismatched_tags_recover_and_find_later_errors(errors):
    out = one(errors, "<view><text></view>\n<view>{{a +}}</view>\n<view wx:else/>")
    assert out == [
        f"{P}:1:7: <text> is not closed (found </view>) [wxml-syntax]",
        f"{P}:2:12: unexpected end of expression [wxml-expression]",
        f"{P}:3:1: <view> has wx:elif/wx:else without a preceding wx:if [wxml-if]",
    ]


def test_unclosed_mustache_in_text_and_attribute(errors):
    out = one(errors, '<view>{{a</view>\n<view class="{{b"/>')
    assert f"{P}:1:7: unclosed '{{{{' [wxml-mustache]" in out
    assert any(e.startswith(f"{P}:2:") for e in out)


def test_bad_expressions(errors):
    out = one(
        errors,
        '<view>{{a = 1}}</view><view a="{{new X()}}"/><view b="{{}}"/><view>{{a ? b}}</view><view>{{`t`}}</view>',
    )
    assert len(out) == 4
    assert out[0] == f"{P}:1:11: unexpected character '=' in expression [wxml-expression]"
    assert "unexpected 'X' in expression" in out[1]  # `new` alone is a plain name, as in WeChat


def test_empty_expression_is_a_warning(project):
    # as WeChat's wcc: `{{}}` renders nothing
    assert warnings_of(project, {P: '<view b="{{}}"/>'}) == [
        f"{P}:1:12: warning: empty expression renders nothing [wxml-expression]"
    ]


def test_duplicate_attribute_and_unknown_directive_are_warnings(project):
    # as WeChat's wcc: the last duplicate wins, an unknown wx: directive is ignored
    out = warnings_of(project, {P: '<view id="a" id="b" wx:fro="{{x}}"/>'})
    assert out == [
        f"{P}:1:14: warning: duplicate attribute 'id' on <view>: the last one is used [wxml-duplicate]",
        f"{P}:1:21: warning: unknown directive 'wx:fro' is ignored [wxml-directive]",
    ]


def test_lonely_lt_is_an_error_and_unclosed_comment_a_warning(errors, project):
    out = one(errors, "<view>a < b</view>")
    assert f"{P}:1:9: unexpected '<' (write &lt; for a literal '<') [wxml-syntax]" in out
    assert warnings_of(project, {P: "<view>a</view>\n<!-- never closed"}) == [
        f"{P}:2:1: warning: unclosed comment: the rest of the file is ignored [wxml-comment]"
    ]


def test_missing_wxs_is_an_error(errors):
    out = one(errors, '<wxs module="m" src="no.wxs"/>\n<wxs src="a.wxs"/>')
    assert out == [
        f"{P}:1:22: wxs file not found: no.wxs [wxs-import]",
        f"{P}:2:1: <wxs> needs a module attribute that is a valid name [wxml]",
    ]


def test_missing_import_include_template_names_and_empty_handlers_are_warnings(project):
    out = warnings_of(
        project,
        {
            P: '<import src="nope.wxml"/>\n<include src="../x/none"/>\n'
            '<template name="t"/><template name="t"/>\n<template/>\n<view bindtap=""/><view catchtap=""/>'
        },
    )
    assert out == [
        f"{P}:1:14: warning: imported file not found: nope.wxml [wxml-import]",
        f"{P}:2:15: warning: included file not found: ../x/none [wxml-include]",
        f"{P}:3:21: warning: template 't' is defined twice: the last one is used [wxml-duplicate]",
        f"{P}:4:1: warning: <template> without a name or an is attribute renders nothing [wxml]",
        f"{P}:5:7: warning: event binding 'bindtap' has no handler: it does nothing [wxml-event]",
    ]


def test_include_cycle_is_a_warning(project):
    out = warnings_of(
        project,
        {
            P: '<include src="a.wxml"/>',
            "pages/index/a.wxml": '<include src="b"/>',
            "pages/index/b.wxml": '<include src="a"/>',
        },
    )
    assert out == [
        "pages/index/b.wxml:1:15: warning: <include> cycle: pages/index/a -> pages/index/b -> pages/index/a "
        "[wxml-include-cycle]"
    ]


def test_errors_of_all_files_are_collected(errors):
    out = errors({P: "<view>", "other/a.wxml": "<text>", "other/b.js": "var x = ;"})
    assert out == [
        "other/a.wxml:1:1: <text> is not closed [wxml-syntax]",
        "other/b.js:1:9: SyntaxError: unexpected token in expression: ';' [js-syntax]",
        f"{P}:1:1: <view> is not closed [wxml-syntax]",
    ]


def test_crlf_bom_and_columns(errors):
    assert one(errors, "\ufeff<view>\r\n\r\n  <text></view>") == [
        f"{P}:3:3: <text> is not closed (found </view>) [wxml-syntax]"
    ]


def test_deep_nesting_is_a_typed_error_not_recursion(errors):
    out = one(errors, "<view>" * 5000 + "</view>" * 5000)
    assert out == [f"{P}:1:769: elements nested deeper than 128 [wxml-syntax]"]


def test_compile_errors_are_typed_and_readable(project):
    root = project({P: "<view>\n<text>"})
    bundle = compile_to_memory(root)  # the page fails alone: the bundle is built and names it
    errs = bundle.errors
    assert all(isinstance(e, CompileError) for e in errs)
    assert [(e.file, e.line, e.column, e.code) for e in errs] == [
        (P, 1, 1, "wxml-syntax"),
        (P, 2, 1, "wxml-syntax"),
    ]
    assert list(bundle.broken) == ["pages/index/index"]
    text = str(CompileErrors(errs))
    assert text.splitlines()[0] == "2 compile errors"
    assert f"{P}:1:1: <view> is not closed" in text


def test_for_item_that_is_not_a_name_is_a_warning(project):
    # as WeChat's wcc: accepted, but no expression can reach such a name
    out = warnings_of(project, {P: '<view wx:for="{{l}}" wx:for-item="{{x}}" wx:for-index="a b"/>'})
    assert out == [
        f"{P}:1:22: warning: wx:for-item '{{{{x}}}}' is not a plain variable name: it cannot be used [wxml-for]",
        f"{P}:1:42: warning: wx:for-index 'a b' is not a plain variable name: it cannot be used [wxml-for]",
    ]


def test_invalid_utf8_and_bytecode_like_sources_are_refused(errors):
    out = errors(
        {
            "utils/a.js": b"var a = 1;\nvar b = '\xff\xfe';\n",
            "pages/index/index.wxml": b"<view>\x00\xc3</view>",
        }
    )
    assert out == [
        "pages/index/index.wxml:1:8: source file is not valid UTF-8 text [encoding]",
        "utils/a.js:2:10: source file is not valid UTF-8 text [encoding]",
    ]


def test_model_without_a_data_path_is_a_warning(project):
    assert warnings_of(project, {P: '<input model:value="{{a + 1}}"/>'}) == [
        f"{P}:1:8: warning: model:value is not a single data path like {{{{value}}}}: it is not written back "
        "[wxml-model]"
    ]
