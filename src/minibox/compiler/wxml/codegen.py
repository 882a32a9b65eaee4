"""WXML tree to JavaScript render functions (the VNode shapes of docs/internals.md section 2).

Each WXML file becomes `FD["path"] = function () { ... return S; }` where `S.body(D, C, d)` pushes the
file's VNodes into `C` for data `D`, and `S.own` holds its `<template name>` functions. Names resolve
statically: wx:for items become JS locals, WXS modules `M.name`, everything else a field of `D`.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .. import expr as ex
from ..errors import ErrorSink, line_col
from .nodes import Attr, Document, Element, Text

#: Built-in components: their tags are lower-cased; any other tag is kept as written (custom component).
BUILTIN_TAGS = frozenset(
    [
        "view",
        "scroll-view",
        "swiper",
        "swiper-item",
        "movable-area",
        "movable-view",
        "cover-view",
        "cover-image",
        "match-media",
        "page-container",
        "root-portal",
        "share-element",
        "grid-view",
        "list-view",
        "sticky-header",
        "sticky-section",
        "icon",
        "progress",
        "rich-text",
        "text",
        "button",
        "checkbox",
        "checkbox-group",
        "editor",
        "form",
        "input",
        "keyboard-accessory",
        "label",
        "picker",
        "picker-view",
        "picker-view-column",
        "radio",
        "radio-group",
        "slider",
        "switch",
        "textarea",
        "navigator",
        "functional-page-navigator",
        "audio",
        "camera",
        "channel-live",
        "channel-video",
        "image",
        "live-player",
        "live-pusher",
        "video",
        "voip-room",
        "map",
        "canvas",
        "ad",
        "ad-custom",
        "official-account",
        "open-data",
        "web-view",
        "page-meta",
        "navigation-bar",
        "slot",
        "block",
        "template",
        "import",
        "include",
        "wxs",
    ]
)
_EVENT = re.compile(r"^(capture-bind|capture-catch|mut-bind|bind|catch)(:?)([A-Za-z_][\w\-]*)$")
_PLAIN = re.compile(r"[\w .:;,#%()/+*=!?@$&|<>\[\]{}-]*", re.A)
_MODULE_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")
#: directives WeChat refuses without a value ("value not set")
_NEED_VALUE = frozenset({"wx:if", "wx:elif", "wx:for", "wx:for-items"})
_WX_ATTRS = frozenset(
    {"wx:if", "wx:elif", "wx:else", "wx:for", "wx:for-items", "wx:for-item", "wx:for-index", "wx:key"}
)


@dataclass
class WxsRef:
    """A `<wxs>` tag: an inline module (source given) or a `src` reference (resolved package path)."""

    name: str
    path: str  # package path: "utils/a.wxs" or "pages/index/index.wxml#name" for inline ones
    source: str | None
    pos: int


#: methods that change the value they are called on: a row calling one is never memoised
_MUTATORS = frozenset({"sort", "reverse", "splice", "push", "pop", "shift", "unshift", "fill", "copyWithin"})


@dataclass
class _RowScope(ex.Scope):
    """A scope that records what the expressions of one wx:for row read (issue 13's row memo):
    ("data", name), ("local", js variable) or ("wxs", name)."""

    reads: set[tuple[str, str]] = field(default_factory=set)

    def child(self, **names: str) -> _RowScope:
        return _RowScope(self.data, {**self.names, **names}, self.wxs, self.reads)

    def resolve(self, name: str) -> str:
        if name in self.names:
            self.reads.add(("local", self.names[name]))
        elif name in self.wxs:
            self.reads.add(("wxs", name))
        else:
            self.reads.add(("data", name))
        return super().resolve(name)


def _calls_mutator(node: object) -> bool:
    if isinstance(node, tuple) and node:
        if node[0] == "call" and node[1][0] == "mem" and node[1][2][0] == "lit" and node[1][2][1] in _MUTATORS:
            return True
        return any(_calls_mutator(x) for x in node[1:])
    if isinstance(node, list):
        return any(_calls_mutator(x) for x in node)
    return False


def _data_path(node: object) -> bool:
    """A plain member chain from a name, with constant keys: `a`, `a.b`, `a[0].b`."""
    if not isinstance(node, tuple) or not node:
        return False
    if node[0] == "id":
        return True
    return node[0] == "mem" and node[2][0] == "lit" and _data_path(node[1])


@dataclass
class CompiledWxml:
    key: str  # package path without .wxml
    js: str
    imports: list[str] = field(default_factory=list)
    includes: list[tuple[str, int]] = field(default_factory=list)  # (key, offset) for cycle errors
    wxs: list[WxsRef] = field(default_factory=list)


def dataset_key(name: str) -> str:
    """`data-user-name` -> `userName` (WeChat's kebab-to-camelCase for dataset and mark keys)."""
    return re.sub(r"-([a-z])", lambda m: m.group(1).upper(), name.lower())


def _q(s: str) -> str:
    if _PLAIN.fullmatch(s):
        return f'"{s}"'
    return json.dumps(s, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class FileCodegen:
    """Compiles one parsed WXML document. `resolve(spec, kind)` maps an import/include/wxs src to a
    package path (or None when the target does not exist)."""

    def __init__(self, doc: Document, sink: ErrorSink, resolve: Callable[[str, str], str | None]) -> None:
        self.doc = doc
        self.sink = sink
        self.resolve = resolve
        self.key = doc.path[:-5] if doc.path.endswith(".wxml") else doc.path
        self.n = 0
        self.result = CompiledWxml(self.key, "")
        self.templates: dict[str, Element] = {}
        self.wxs_names: dict[str, str] = {}
        self.in_template = False  # compiling a <template name> (its D is the template's data)
        self.mutates = False  # an expression compiled since the last reset calls a mutating method
        # the wx:for element that is the only content of a built-in element's children: its memoised
        # rows may be that element's children array itself (render_runtime.js `$ML`, `sole`)
        self.sole_for: Element | None = None

    # -- errors ---------------------------------------------------------------------------------------
    def error(self, pos: int, message: str, code: str = "wxml") -> None:
        line, col = line_col(self.doc.source, pos)
        self.sink.add(self.doc.path, line, col, message, code)

    def warn(self, pos: int, message: str, code: str = "wxml") -> None:
        """Something WeChat's compiler accepts: reported, never fatal."""
        line, col = line_col(self.doc.source, pos)
        self.sink.warn(self.doc.path, line, col, message, code)

    def var(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # -- expressions ----------------------------------------------------------------------------------
    def segments(self, raw: str, base: int) -> list[tuple[bool, str, int]]:
        """Split text into (is_expr, text_or_source, offset) segments; static text is entity-decoded."""
        out: list[tuple[bool, str, int]] = []
        i = 0
        while True:
            j = raw.find("{{", i)
            if j < 0:
                if i < len(raw):
                    out.append((False, html.unescape(raw[i:]), base + i))
                return out
            if j > i:
                out.append((False, html.unescape(raw[i:j]), base + i))
            from .lexer import skip_mustache

            k = skip_mustache(raw, j)
            if k < 0:
                self.error(base + j, "unclosed '{{'", "wxml-mustache")
                return out
            out.append((True, raw[j + 2 : k - 2], base + j + 2))
            i = k

    def expr(self, src: str, pos: int, scope: ex.Scope) -> str:
        if not src.strip():  # `{{}}`: WeChat renders nothing
            self.warn(pos, "empty expression renders nothing", "wxml-expression")
            return "undefined"
        try:
            node = ex.parse(src)
            if _calls_mutator(node):
                self.mutates = True
            return ex.js(node, scope)
        except ex.ExprError as exc:
            self.error(pos + exc.offset, exc.message, "wxml-expression")
            return "undefined"

    def value(self, attr: Attr | None, scope: ex.Scope, typed: bool = True) -> str:
        """JS for an attribute value: one bare `{{x}}` keeps its type; anything else is a string."""
        if attr is None or attr.value is None:
            return "true"
        segs = self.segments(attr.value, attr.value_pos)
        if typed and len(segs) == 1 and segs[0][0]:
            return self.expr(segs[0][1], segs[0][2], scope)
        return self.concat(segs, scope)

    def template_data(self, attr: Attr, scope: ex.Scope) -> str:
        """`<template data>`: as WeChat, a lone name is shorthand for an object (`{{item}}` = `{item}`)."""
        segs = self.segments(attr.value or "", attr.value_pos)
        if len(segs) == 1 and segs[0][0]:
            try:
                node = ex.parse(segs[0][1])
            except ex.ExprError as exc:
                self.error(segs[0][2] + exc.offset, exc.message, "wxml-expression")
                return "{}"
            if node[0] == "id":
                node = ("obj", [("kv", node[1], node)])
            return ex.js(node, scope)
        return self.value(attr, scope)

    def model_path(self, attr: Attr) -> str | None:
        """`model:value="{{a.b}}"`: the data path written back on input (a plain name or member chain)."""
        raw = (attr.value or "").strip()
        m = re.fullmatch(r"\{\{\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*\}\}", raw)
        if m is None:  # WeChat binds the value one way and writes nothing back
            self.warn(attr.pos, f"{attr.name} is not a single data path like {{{{value}}}}: it is not written back",
                      "wxml-model")
            return None
        return m.group(1)

    def concat(self, segs: list[tuple[bool, str, int]], scope: ex.Scope) -> str:
        parts = [f"$s({self.expr(s, p, scope)})" if is_e else _q(s) for is_e, s, p in segs]
        if not parts:
            return '""'
        if len(parts) == 1:
            return parts[0]
        return "(" + "+".join(parts) + ")"

    # -- file -----------------------------------------------------------------------------------------
    def compile(self) -> CompiledWxml:
        self.collect(self.doc.children, top=True)
        wxs_js = ",".join(f"{_q(name)}:$W({_q(path)})" for name, path in self.wxs_names.items())
        scope = ex.Scope("D", {}, {name: f"M.{name}" for name in self.wxs_names})
        lines = [
            f"FD[{_q(self.key)}] = function () {{",
            f"var M = {{{wxs_js}}};",
            f"var S = {{own: Object.create(null), imports: {json.dumps(self.result.imports)}, T: null, body: null}};",
        ]
        for name, el in self.templates.items():
            body: list[str] = []
            self.in_template = True
            self.children(el.children, "C", scope, body)
            self.in_template = False
            lines.append(f"S.own[{_q(name)}] = function (D, C, d) {{\n" + "\n".join(body) + "\n};")
        body = []
        self.children(self.doc.children, "C", scope, body)
        lines.append("S.body = function (D, C, d) {\n" + "\n".join(body) + "\n};")
        lines.append("return S;\n};")
        self.result.js = "\n".join(lines) + "\n"
        return self.result

    def collect(self, nodes: list[Element | Text], top: bool) -> None:
        """First pass: `<wxs>`, `<template name>` and `<import>` are file-wide declarations."""
        for node in nodes:
            if not isinstance(node, Element):
                continue
            if node.tag == "wxs":
                self.declare_wxs(node)
                continue
            if node.tag == "import":  # as WeChat: a missing file imports nothing (a warning at run time there)
                src = node.attr("src")
                if src is None or not src.value:
                    self.warn(node.pos, "<import> without a src imports nothing", "wxml-import")
                elif "{{" in src.value:
                    self.warn(src.value_pos, "<import src> must be a static path: nothing is imported", "wxml-import")
                else:
                    target = self.resolve(src.value, "import")
                    if target is None:
                        self.warn(src.value_pos, f"imported file not found: {src.value}", "wxml-import")
                    elif target[:-5] not in self.result.imports:
                        self.result.imports.append(target[:-5])
                continue
            if node.tag == "template" and node.attr("name") is not None:
                name_attr = node.attr("name")
                assert name_attr is not None
                name = name_attr.value or ""
                if not name or "{{" in name:
                    self.warn(name_attr.pos, "<template name> is empty or not static: the template is never used")
                else:
                    if name in self.templates:  # as WeChat: the last definition wins
                        self.warn(node.pos, f"template {name!r} is defined twice: the last one is used",
                                  "wxml-duplicate")
                    self.templates[name] = node
                self.collect(node.children, top=False)
                continue
            self.collect(node.children, top=False)

    def declare_wxs(self, node: Element) -> None:
        mod = node.attr("module")
        if mod is None or not mod.value or not _MODULE_NAME.match(mod.value):
            self.error(node.pos, "<wxs> needs a module attribute that is a valid name")
            return
        name = mod.value
        if name in self.wxs_names:  # as WeChat: the last definition wins
            self.warn(mod.pos, f"wxs module {name!r} is defined twice: the last one is used", "wxml-duplicate")
            self.result.wxs = [w for w in self.result.wxs if w.name != name]
            del self.wxs_names[name]
        src = node.attr("src")
        if src is not None:
            if any(isinstance(c, Text) and c.value.strip() for c in node.children):  # as wcc
                self.error(node.pos, "<wxs> with a src must have no content", "wxs-import")
                return
            target = self.resolve(src.value or "", "wxs")
            if target is None:
                self.error(src.value_pos, f"wxs file not found: {src.value}", "wxs-import")
                return
            self.result.wxs.append(WxsRef(name, target, None, src.value_pos))
            self.wxs_names[name] = target
            return
        text = "".join(c.value for c in node.children if isinstance(c, Text))
        pos = node.children[0].pos if node.children else node.pos
        path = f"{self.doc.path}#{name}"
        self.result.wxs.append(WxsRef(name, path, text, pos))
        self.wxs_names[name] = path

    # -- nodes ----------------------------------------------------------------------------------------
    def children(self, nodes: list[Element | Text], C: str, scope: ex.Scope, out: list[str]) -> None:
        i = 0
        pending: list[tuple[bool, str, int]] = []

        def flush() -> None:
            # as wcc: a comment splits text, and each whitespace-only piece is dropped on its own
            kept = [(e, s, p) for e, s, p in pending if s.strip(" \t\n") or "{{" in s]
            if kept:
                segs: list[tuple[bool, str, int]] = []
                for _, s, p in kept:
                    segs.extend(self.segments(s, p))
                out.append(f"{C}.push({{x: {self.concat(segs, scope)}}});")
            pending.clear()

        while i < len(nodes):
            node = nodes[i]
            if isinstance(node, Text):
                pending.append((False, node.value, node.pos))
                i += 1
                continue
            flush()
            if node.attr("wx:elif") is not None or node.attr("wx:else") is not None:
                self.error(node.pos, f"<{node.tag}> has wx:elif/wx:else without a preceding wx:if", "wxml-if")
                i += 1
                continue
            if node.attr("wx:if") is not None and node.attr("wx:for") is None:
                chain = [node]
                j = i + 1
                while j < len(nodes):
                    nxt = nodes[j]
                    if isinstance(nxt, Text):
                        if nxt.value.strip(" \t\n") == "":
                            j += 1
                            continue
                        break
                    if nxt.attr("wx:elif") is not None or nxt.attr("wx:else") is not None:
                        chain.append(nxt)
                        j += 1
                        if nxt.attr("wx:else") is not None:
                            break
                        continue
                    break
                # whitespace text skipped inside the chain is dropped
                self.if_chain(chain, C, scope, out)
                i = j
                continue
            self.node(node, C, scope, out)
            i += 1
        flush()

    def if_chain(self, chain: list[Element], C: str, scope: ex.Scope, out: list[str]) -> None:
        for k, el in enumerate(chain):
            if k == 0:
                cond = self.value(el.attr("wx:if"), scope)
                out.append(f"if ({cond}) {{")
            elif el.attr("wx:else") is not None:
                if el.attr("wx:elif") is not None:
                    self.error(el.pos, "wx:elif and wx:else on the same element", "wxml-if")
                out.append("} else {")
            else:
                out.append(f"}} else if ({self.value(el.attr('wx:elif'), scope)}) {{")
            self.node(el, C, scope, out, in_chain=True)
        out.append("}")

    def node(self, el: Element, C: str, scope: ex.Scope, out: list[str], in_chain: bool = False) -> None:
        tag = el.tag
        if tag in ("wxs", "import") or (tag == "template" and el.attr("name") is not None):
            return
        for a in el.attrs:
            if a.name.startswith("wx:") and a.name not in _WX_ATTRS:  # WeChat ignores it
                self.warn(a.pos, f"unknown directive {a.name!r} is ignored", "wxml-directive")
            elif a.name in _NEED_VALUE and a.value is None:
                self.error(a.pos, f"{a.name} needs a value", "wxml-directive")
        for_attr = el.attr("wx:for") or el.attr("wx:for-items")
        if for_attr is not None:
            self.for_loop(el, for_attr, C, scope, out)
            return
        if el.attr("wx:if") is not None and not in_chain:
            out.append(f"if ({self.value(el.attr('wx:if'), scope)}) {{")
            self.body(el, C, scope, out, None)
            out.append("}")
            return
        self.body(el, C, scope, out, None)

    def for_loop(self, el: Element, for_attr: Attr, C: str, scope: ex.Scope, out: list[str]) -> None:
        lst, ks, i, n, item, index = (self.var(p) for p in ("l", "ks", "i", "n", "v", "x"))
        names = []
        for directive, default in (("wx:for-item", "item"), ("wx:for-index", "index")):
            a = el.attr(directive)
            name = (a.value or "").strip() if a is not None else default
            if not name:
                name = default
            elif a is not None and not _MODULE_NAME.match(name):  # WeChat binds a name no expression can reach
                self.warn(a.pos, f"{directive} {a.value!r} is not a plain variable name: it cannot be used",
                          "wxml-for")
            names.append(name)
        item_name, index_name = names
        src = self.value(for_attr, scope)
        if self.row_memo(el, for_attr, C, scope, out, (lst, ks, i, n, item, index), names, src):
            return
        out.append(f"var {lst} = {src}, {ks} = null;")
        out.append(
            f"if (!Array.isArray({lst})) {{ var r{self.n} = $it({lst}); {lst} = r{self.n}[0]; {ks} = r{self.n}[1]; }}"
        )
        out.append(f"for (var {i} = 0, {n} = {lst}.length; {i} < {n}; {i}++) {{")
        out.append(f"var {item} = {lst}[{i}], {index} = {ks} === null ? {i} : {ks}[{i}];")
        inner = scope.child(**{item_name: item, index_name: index})
        key = self.for_key(el, item, index, inner)
        if el.attr("wx:if") is not None:
            out.append(f"if ({self.value(el.attr('wx:if'), inner)}) {{")
            self.body(el, C, inner, out, key)
            out.append("}")
        else:
            self.body(el, C, inner, out, key)
        out.append("}")

    def for_key(self, el: Element, item: str, index: str, inner: ex.Scope) -> str:
        key_attr = el.attr("wx:key")
        if key_attr is None or not key_attr.value:
            return index
        if key_attr.value == "*this":
            return item
        if "{{" in key_attr.value:
            return f"$g({item},{self.value(key_attr, inner)})"
        return f"$g({item},{_q(key_attr.value)})"

    def row_memo(self, el: Element, for_attr: Attr, C: str, scope: ex.Scope, out: list[str],
                 var: tuple[str, ...], names: list[str], src: str) -> bool:
        """A wx:for over a plain data path, its row a function: emitted, True returned. Its rows are
        memoised (render_runtime.js `$ML`) when the analysis allows it.

        Its list is a plain data path, and each row reads only its item, its index and top-level data
        fields (recorded); no WXS, template, include or outer loop variable, no mutating method. A loop
        inside a <template name> is not memoised (its data is a new object on every call)."""
        if self.in_template or el.tag in ("template", "include"):
            return False
        segs = self.segments(for_attr.value or "", for_attr.value_pos)
        if len(segs) != 1 or not segs[0][0]:
            return False
        try:
            list_node = ex.parse(segs[0][1])
        except ex.ExprError:
            return False
        if not _data_path(list_node):
            return False
        root = list_node
        while root[0] == "mem":
            root = root[1]
        if root[1] in scope.names or root[1] in scope.wxs:
            return False
        if any(isinstance(d, Element) and d.tag in ("template", "include") for d in _descendants(el)):
            return False
        sole = self.sole_for is el and C.endswith(".c")
        lst, _ks, _i, _n, item, index = var
        item_name, index_name = names
        rows = self.var("R")
        row_scope = _RowScope(scope.data, {**scope.names, item_name: item, index_name: index}, scope.wxs)
        outer = set(scope.names.values()) - {item, index}
        body: list[str] = []
        saved, self.mutates = self.mutates, False
        key = self.for_key(el, item, index, row_scope)
        if el.attr("wx:if") is not None:
            body.append(f"if ({self.value(el.attr('wx:if'), row_scope)}) {{")
            self.body(el, rows, row_scope, body, key)
            body.append("}")
        else:
            self.body(el, rows, row_scope, body, key)
        mutates, self.mutates = self.mutates, saved
        reads = row_scope.reads
        memo = not mutates and not any(kind == "wxs" or (kind == "local" and name in outer) for kind, name in reads)
        deps = sorted(name for kind, name in reads if kind == "data")
        lst, ks, i, n = var[:4]
        fn = self.var("f")
        out.append(f"var {lst} = {src}, {fn} = function ({item}, {index}, {rows}) {{\n" + "\n".join(body) + "\n};")
        if memo:
            # the only content of its element: the loop's memoised rows become the children array
            call = f"$ML({C}, {_q(self.key + ':' + lst)}, {lst}, {json.dumps(deps)}, {fn}{', 1' if sole else ''})"
            out.append(f"if ($MC !== null && {scope.data} === $MC.data && Array.isArray({lst})) "
                       f"{C + ' = ' if sole else ''}{call};")
        out.append(f"{'else ' if memo else ''}{{ var {ks} = null;")
        out.append(
            f"if (!Array.isArray({lst})) {{ var r{self.n} = $it({lst}); {lst} = r{self.n}[0]; {ks} = r{self.n}[1]; }}"
        )
        out.append(f"for (var {i} = 0, {n} = {lst}.length; {i} < {n}; {i}++) "
                   f"{fn}({lst}[{i}], {ks} === null ? {i} : {ks}[{i}], {C});\n}}")
        return True

    def body(self, el: Element, C: str, scope: ex.Scope, out: list[str], key: str | None) -> None:
        tag = el.tag
        if tag == "block":
            start = self.var("s")
            if key is not None:
                out.append(f"var {start} = {C}.length;")
            self.children(el.children, C, scope, out)
            if key is not None:
                out.append(f"$key({C}, {start}, {key});")
            return
        if tag == "template":
            is_attr = el.attr("is")
            if is_attr is None:
                self.warn(el.pos, "<template> without a name or an is attribute renders nothing")
                return
            data_attr = el.attr("data")
            data = self.template_data(data_attr, scope) if data_attr is not None else "{}"
            out.append(f"$T(S.T, {self.value(is_attr, scope)}, {data}, {C}, d);")
            return
        if tag == "include":
            src = el.attr("src")
            if src is None or not src.value:
                self.warn(el.pos, "<include> without a src includes nothing", "wxml-include")
                return
            target = self.resolve(src.value, "include") if "{{" not in src.value else None
            if target is None:  # as WeChat: nothing is included (a warning at run time there)
                self.warn(src.value_pos, f"included file not found: {src.value}", "wxml-include")
                return
            self.result.includes.append((target[:-5], src.value_pos))
            out.append(f"$inc({_q(target[:-5])}, {scope.data}, {C}, d);")
            return
        self.element(el, C, scope, out, key)

    def element(self, el: Element, C: str, scope: ex.Scope, out: list[str], key: str | None) -> None:
        low = el.tag.lower()
        tag = low if low in BUILTIN_TAGS else el.tag
        attrs: list[str] = []
        cls = st = hidden = None
        events: list[str] = []
        dataset: list[str] = []
        marks: list[str] = []
        models: list[str] = []
        for a in el.attrs:
            name = a.name
            if name in _WX_ATTRS:
                continue
            if name == "class":
                cls = self.value(a, scope, typed=False)
            elif name == "style":
                st = self.value(a, scope, typed=False)
            elif name == "hidden":
                hidden = self.value(a, scope)
            elif name.startswith("data-"):
                dataset.append(f"{_q(dataset_key(name[5:]))}:{self.value(a, scope)}")
            elif name.startswith("model:"):
                prop = name[6:]
                path = self.model_path(a)
                attrs.append(f"{_q(prop)}:{self.value(a, scope)}")
                if path is not None:
                    models.append(f"{_q(prop)}:{_q(path)}")
            elif name.startswith("mark:"):
                marks.append(f"{_q(dataset_key(name[5:]))}:{self.value(a, scope)}")
            elif (m := _EVENT.match(name)) and not (
                m.group(2) == "" and m.group(1) in ("capture-bind", "capture-catch")
            ):
                if a.value is None or a.value == "":
                    # WeChat: no handler is called, but a catch still stops the event (`catchtap=""` idiom)
                    if not m.group(1).endswith("catch"):
                        self.warn(a.pos, f"event binding {name!r} has no handler: it does nothing", "wxml-event")
                    handler = '""'
                else:
                    handler = self.value(a, scope, typed=False)
                events.append(f"{{type:{_q(m.group(3))},handler:{handler},mode:{_q(m.group(1))}}}")
            else:
                attrs.append(f"{_q(name)}:{self.value(a, scope)}")
        fields = [f"t:{_q(tag)}"]
        if key is not None:
            fields.append(f"k:{key}")
        # no attributes: the runtime's shared empty object ($EA; nothing writes into a node's `a`
        # but `hidden` below, and a model: binding, which is an attribute)
        fields.append(f"a:{{{','.join(attrs)}}}" if attrs or hidden is not None else "a:$EA")
        if cls is not None:
            fields.append(f"cls:{cls}")
        if st is not None:
            fields.append(f"st:{st}")
        if events:
            fields.append(f"ev:[{','.join(events)}]")
        if dataset:
            fields.append(f"ds:{{{','.join(dataset)}}}")
        if marks:
            fields.append(f"mk:{{{','.join(marks)}}}")
        if models:
            fields.append(f"md:{{{','.join(models)}}}")
        has_children = any(isinstance(c, Element) or c.value.strip(" \t\n") for c in el.children)
        if not has_children and hidden is None:  # a leaf: the shared empty list of children ($EC)
            out.append(f"{C}.push({{{','.join(fields)},c:$EC}});")
            return
        e = self.var("e")
        out.append(f"var {e} = {{{','.join(fields)},c:[]}};")
        if hidden is not None:
            out.append(f"if ({hidden}) {e}.a.hidden = true;")
        if has_children:
            if low in BUILTIN_TAGS and low not in ("block", "template", "include", "slot", "import", "wxs"):
                self.sole_for = _sole_for(el)
            self.children(el.children, f"{e}.c", scope, out)
        out.append(f"{C}.push({e});")


def _sole_for(el: Element) -> Element | None:
    """The child of `el` that is a wx:for element when it is all `el` holds (besides whitespace)."""
    found = None
    for c in el.children:
        if isinstance(c, Element):
            if found is not None or (c.attr("wx:for") is None and c.attr("wx:for-items") is None):
                return None
            if c.attr("wx:elif") is not None or c.attr("wx:else") is not None:
                return None
            found = c
        elif c.value.strip(" \t\n") or "{{" in c.value:
            return None
    return found


def _descendants(el: Element) -> Iterator[Element]:
    for c in el.children:
        if isinstance(c, Element):
            yield c
            yield from _descendants(c)


def compile_document(
    doc: Document, sink: ErrorSink, resolve: Callable[[str, str], str | None]
) -> CompiledWxml:
    """Compile one parsed WXML document into its `FD[...]` definition."""
    return FileCodegen(doc, sink, resolve).compile()


def resolve_path(spec: str, from_path: str, ext: str) -> str | None:
    """Package path for `spec` used in `from_path` (relative or `/`-absolute), with `ext` added if
    missing; None when it escapes the package root."""
    spec = spec.strip()
    if not spec:
        return None
    base = spec[1:] if spec.startswith("/") else posixpath.join(posixpath.dirname(from_path), spec)
    norm = posixpath.normpath(base)
    if norm.startswith("../") or norm == ".." or norm.startswith("/"):
        return None
    if not norm.endswith(ext):
        norm += ext
    return norm
