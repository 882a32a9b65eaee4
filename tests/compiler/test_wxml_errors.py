"""Malformed WXML: typed errors naming file:line:col, every error of every file reported together."""

from __future__ import annotations

import pytest

from minibox.compiler import CompileError, CompileErrors, compile_to_memory

P = "pages/index/index.wxml"


def one(errors, wxml: str) -> list[str]:
    return errors({P: wxml})


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
    assert len(out) == 5
    assert out[0] == f"{P}:1:11: unexpected character '=' in expression [wxml-expression]"
    assert "'new' is not allowed" in out[1]
    assert "empty expression" in out[2]


def test_duplicate_attribute_and_unknown_directive(errors):
    out = one(errors, '<view id="a" id="b" wx:fro="{{x}}"/>')
    assert out == [
        f"{P}:1:14: duplicate attribute 'id' on <view> [wxml-syntax]",
        f"{P}:1:21: unknown directive 'wx:fro' [wxml-directive]",
    ]


def test_lonely_lt_and_unclosed_comment(errors):
    out = one(errors, "<view>a < b</view>\n<!-- never closed")
    assert f"{P}:1:9: unexpected '<' (write &lt; for a literal '<') [wxml-syntax]" in out
    assert f"{P}:2:1: unclosed comment [wxml-syntax]" in out


def test_missing_import_include_wxs_and_template_names(errors):
    out = one(
        errors,
        '<import src="nope.wxml"/>\n<include src="../x/none"/>\n<wxs module="m" src="no.wxs"/>\n'
        '<wxs src="a.wxs"/>\n<template name="t"/><template name="t"/>\n<template/>\n<view bindtap=""/>',
    )
    assert out == [
        f"{P}:1:14: imported file not found: nope.wxml [wxml-import]",
        f"{P}:2:15: included file not found: ../x/none [wxml-include]",
        f"{P}:3:22: wxs file not found: no.wxs [wxs-import]",
        f"{P}:4:1: <wxs> needs a module attribute that is a valid name [wxml]",
        f"{P}:5:21: template 't' is defined twice [wxml]",
        f"{P}:6:1: <template> needs a name or an is attribute [wxml]",
        f"{P}:7:7: event binding 'bindtap' needs a handler name [wxml-event]",
    ]


def test_include_cycle_detected(errors):
    out = errors(
        {
            P: '<include src="a.wxml"/>',
            "pages/index/a.wxml": '<include src="b"/>',
            "pages/index/b.wxml": '<include src="a"/>',
        }
    )
    assert out == [
        "pages/index/b.wxml:1:15: <include> cycle: pages/index/a -> pages/index/b -> pages/index/a [wxml-include-cycle]"
    ]


def test_errors_of_all_files_are_collected(errors):
    out = errors({P: "<view>", "other/a.wxml": "<text>", "other/b.js": "eval('1')"})
    assert out == [
        "other/a.wxml:1:1: <text> is not closed [wxml-syntax]",
        "other/b.js:1:1: eval() is not supported in mini-programs [no-eval]",
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
    with pytest.raises(CompileErrors) as info:
        compile_to_memory(root)
    errs = info.value.errors
    assert all(isinstance(e, CompileError) for e in errs)
    assert [(e.file, e.line, e.column, e.code) for e in errs] == [
        (P, 1, 1, "wxml-syntax"),
        (P, 2, 1, "wxml-syntax"),
    ]
    text = str(info.value)
    assert text.splitlines()[0] == "2 compile errors"
    assert f"{P}:1:1: <view> is not closed" in text


def test_for_item_must_be_a_name(errors):
    out = one(errors, '<view wx:for="{{l}}" wx:for-item="{{x}}" wx:for-index="a b"/>')
    assert out == [
        f"{P}:1:22: wx:for-item must be a plain variable name, not '{{{{x}}}}' [wxml-for]",
        f"{P}:1:42: wx:for-index must be a plain variable name, not 'a b' [wxml-for]",
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


def test_model_needs_a_data_path(errors):
    assert one(errors, '<input model:value="{{a + 1}}"/>') == [
        f"{P}:1:8: model:value needs a single data path like {{{{value}}}} [wxml-model]"
    ]
