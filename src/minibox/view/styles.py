"""Compiled WXSS -> the stylesheet the browser view loads.

Mini-program tags are drawn as `wx-<tag>` elements (as WeChat's own web view does), so type
selectors for mini-program tags are renamed (`view` -> `wx-view`, `page` -> `wx-page`); other
type selectors (rich-text's HTML tags) stay. A page's sheet applies only inside its page (CSS
`@scope`, where `page` names the scoping root); app.wxss is global. Component sheets come isolated
from the compiler (class prefixes the runtime also writes into the components' class lists).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from minibox.compiler.wxss import matching_brace

#: Every built-in component tag, plus `page` (the page root).
BUILTIN_TAGS = frozenset(["page", "view", "text", "image", "button", "input", "textarea", "checkbox", "checkbox-group", "radio", "radio-group", "switch", "slider", "picker", "picker-view", "picker-view-column", "form", "label", "navigator", "scroll-view", "swiper", "swiper-item", "movable-area", "movable-view", "icon", "progress", "rich-text", "web-view", "cover-view", "cover-image", "block", "slot", "video", "audio", "camera", "canvas", "map", "editor", "match-media", "page-container", "root-portal", "share-element"])

#: Largest combined stylesheet served for one bundle.
MAX_SHEET_BYTES = 8_000_000

_IDENT = re.compile(r"-?[A-Za-z_][\w-]*")


def rename_selector(selector: str, tags: frozenset[str], root: str | None = None) -> str:
    """Rename type selectors in one selector list; attribute values, strings, ids, classes stay.
    A type selector equal to `root` becomes `:scope` (the root of the enclosing @scope)."""
    out: list[str] = []
    i, n = 0, len(selector)
    prev = " "
    while i < n:
        ch = selector[i]
        if ch == "[":
            j = selector.find("]", i)
            j = n if j < 0 else j + 1
            out.append(selector[i:j])
            i, prev = j, "]"
            continue
        if ch in "\"'":
            j = selector.find(ch, i + 1)
            j = n if j < 0 else j + 1
            out.append(selector[i:j])
            i, prev = j, ch
            continue
        m = _IDENT.match(selector, i)
        if m:
            word = m.group()
            if prev in " \t\n>+~,(" and word == root:
                out.append(":scope")
            elif prev in " \t\n>+~,(" and word in tags:
                out.append("wx-" + word)
            else:
                out.append(word)
            i, prev = m.end(), word[-1]
            continue
        out.append(ch)
        prev = ch
        i += 1
    return "".join(out)


def _block_end(css: str, start: int) -> int:
    """Index just past the `}` matching the `{` at `start`."""
    return matching_brace(css, start) + 1


def rename_sheet(css: str, tags: frozenset[str], root: str | None = None) -> str:
    """Rename type selectors in every rule of a sheet, into @media/@supports/@scope blocks."""
    out: list[str] = []
    i = 0
    while i < len(css):
        brace = css.find("{", i)
        if brace < 0:
            out.append(css[i:])
            break
        semi = css.find(";", i, brace)
        if semi >= 0 and css[i:semi].lstrip().startswith("@"):
            out.append(css[i : semi + 1])  # @charset, @import leftovers
            i = semi + 1
            continue
        prelude = css[i:brace]
        end = _block_end(css, brace)
        body = css[brace + 1 : end - 1]
        head = prelude.strip()
        if head.startswith("@"):
            if head.startswith(("@media", "@supports", "@scope", "@layer", "@container")):
                out.append(prelude + "{" + rename_sheet(body, tags, root) + "}")
            else:  # @keyframes, @font-face: no selectors inside
                out.append(css[i:end])
        else:
            out.append(rename_selector(prelude, tags, root) + "{" + body + "}")
        i = end
    return "".join(out)


def custom_tags(config: dict[str, Any]) -> dict[str, set[str]]:
    """Component path -> the tags that name it anywhere in the bundle."""
    names: dict[str, set[str]] = {}
    sections = [config.get("app", {}), *config.get("pages", {}).values(), *config.get("components", {}).values()]
    for section in sections:
        for tag, path in (section.get("usingComponents") or {}).items():
            names.setdefault(str(path).lstrip("/"), set()).add(tag)
    return names


def bundle_sheet(bundle_dir: Path) -> str:
    """The one stylesheet of a bundle for the browser view."""
    config = json.loads((bundle_dir / "bundle.json").read_text("utf-8"))
    styles = bundle_dir / "styles"
    comps = custom_tags(config)
    tags = BUILTIN_TAGS | frozenset(t for ts in comps.values() for t in ts)
    total = sum(f.stat().st_size for f in styles.rglob("*.css")) if styles.is_dir() else 0
    if total > MAX_SHEET_BYTES:
        raise ValueError(f"stylesheets of {bundle_dir} are larger than {MAX_SHEET_BYTES} bytes")

    def read(rel: str) -> str | None:
        f = styles / f"{rel}.css"
        return f.read_text("utf-8") if f.is_file() else None

    parts: list[str] = []
    app = read("app")
    if app:
        parts.append(f"/* app.wxss */\n{rename_sheet(app, tags)}")
    for path in sorted(config.get("components", {})):
        css = read(path)
        if css:  # already isolated by the compiler's class prefixes
            parts.append(f"/* {path}.wxss */\n{rename_sheet(css, tags)}")
    page_tags = tags - {"page"}
    for path in sorted(config.get("pages", {})):
        css = read(path)
        if css:  # `page` is the scoping root itself
            body = rename_sheet(css, page_tags, root="page")
            parts.append(f'/* {path}.wxss */\n@scope (wx-page[data-mb-path="{path}"]) {{\n{body}\n}}')
    sheet = "\n".join(parts)
    if len(sheet.encode()) > MAX_SHEET_BYTES:
        raise ValueError(f"stylesheet of {bundle_dir} is larger than {MAX_SHEET_BYTES} bytes")
    return sheet
