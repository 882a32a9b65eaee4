"""The headless view: applies the patch protocol to an in-memory tree, answers CSS selectors.

The browser renderer applies the same operations to the DOM; tests compare the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: A class written in a component's style scope (see minibox.compiler.wxss.style_scope).
_SCOPED = re.compile(r"^c[0-9a-f]{7}--")


class PatchError(Exception):
    """An operation names a node the view does not have, or is malformed."""


@dataclass(eq=False, slots=True)
class Node:
    id: int
    tag: str  # "#text" for text nodes
    text: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    class_name: str = ""
    style: str = ""
    events: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None

    @property
    def classes(self) -> list[str]:
        """Class names as the mini-program wrote them: style-scope prefixes (`c1a2b3c4--x`) and
        the `:host` marker removed, as selectors in WeChat's own tools see them."""
        out: list[str] = []
        for token in self.class_name.split():
            if _SCOPED.match(token):
                if token.endswith("--_host"):
                    continue
                token = token[len("c0000000--"):]
            if token not in out:
                out.append(token)
        return out

    def text_content(self) -> str:
        if self.tag == "#text":
            return self.text
        return "".join(c.text_content() for c in self.children)

    def elements(self) -> list[Node]:
        return [c for c in self.children if c.tag != "#text"]

    def walk(self):
        for child in self.children:
            if child.tag != "#text":
                yield child
                yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        """A normalised form for comparing trees (browser DOM vs. headless)."""
        if self.tag == "#text":
            return {"text": self.text}
        out: dict[str, Any] = {"tag": self.tag, "children": [c.to_dict() for c in self.children]}
        if self.attrs:
            out["attrs"] = {k: v for k, v in sorted(self.attrs.items())}
        if self.class_name:
            out["class"] = self.class_name
        if self.style:
            out["style"] = self.style
        return out


@dataclass
class PageView:
    page: int
    path: str
    root: Node
    query: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    visible: bool = True


class HeadlessView:
    """Keeps every open page's tree, plus what the mini-program asked the view to show."""

    def __init__(self) -> None:
        self.nodes: dict[int, Node] = {}
        self.pages: dict[int, PageView] = {}
        self.view_calls: list[dict[str, Any]] = []
        #: the watermark text the host draws over every page ("" for none)
        self.watermark = ""
        self.patch_count = 0
        self.op_count = 0

    def on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind == "patch":
            self.apply(message["ops"])
        elif kind == "page":
            self._page(message)
        elif kind == "watermark":  # drawn by the host over every page (Host.watermark_text)
            self.watermark = str(message.get("text") or "")
        elif kind == "view":
            self.view_calls.append(message)
            if message.get("api") == "setNavigationBarTitle" and message.get("page") in self.pages:
                self.pages[message["page"]].title = message.get("title")

    def _page(self, msg: dict[str, Any]) -> None:
        op = msg["op"]
        if op == "open":
            root = Node(msg["root"], "page")
            self.nodes[root.id] = root
            cfg = msg.get("config") or {}
            self.pages[msg["page"]] = PageView(msg["page"], msg["path"], root, msg.get("query") or {}, cfg,
                                               cfg.get("navigationBarTitleText"))
        elif op == "close":
            page = self.pages.pop(msg["page"], None)
            if page is not None:
                self._forget(page.root)
        elif op in ("show", "hide") and msg["page"] in self.pages:
            self.pages[msg["page"]].visible = op == "show"

    def _node(self, node_id: int) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise PatchError(f"patch names unknown node {node_id}") from None

    def _forget(self, node: Node) -> None:
        forget, todo = self.nodes.pop, [node]  # no recursion: a tree may be as deep as a frame
        while todo:
            node = todo.pop()
            forget(node.id, None)
            todo += node.children

    def _detach(self, node: Node) -> None:
        if node.parent is not None:
            node.parent.children.remove(node)
            node.parent = None

    def apply(self, ops: list[list[Any]]) -> None:
        self.patch_count += 1
        self.op_count += len(ops)
        for op in ops:
            kind = op[0]
            if kind == "tree":
                self._tree(op)
            elif kind == "create":
                self.nodes[op[1]] = Node(op[1], op[2])
            elif kind == "text":
                node = self.nodes.get(op[1])
                if node is None:
                    self.nodes[op[1]] = Node(op[1], "#text", text=op[2])
                else:
                    node.text = op[2]
            elif kind == "attr":
                node = self._node(op[1])
                if op[3] is None:
                    node.attrs.pop(op[2], None)
                else:
                    node.attrs[op[2]] = op[3]
            elif kind == "class":
                self._node(op[1]).class_name = op[2]
            elif kind == "style":
                self._node(op[1]).style = op[2]
            elif kind == "events":
                self._node(op[1]).events = list(op[2])
            elif kind == "insert":
                parent, node = self._node(op[1]), self._node(op[2])
                self._detach(node)
                before = self._node(op[3]) if op[3] is not None else None
                if before is not None and before.parent is parent:
                    parent.children.insert(parent.children.index(before), node)
                else:
                    parent.children.append(node)
                node.parent = parent
            elif kind == "remove":
                node = self._node(op[1])
                self._detach(node)
                self._forget(node)
            else:
                raise PatchError(f"unknown patch operation {kind!r}")

    def _tree(self, op: list[Any]) -> None:
        """["tree", parentId|null, firstId, spec, ...]: create subtrees, appended to the parent in
        order (docs/internals.md §4). No recursion: a spec nests as deep as the frame allows."""
        nodes = self.nodes
        try:
            parent = self._node(op[1]) if op[1] is not None else None
            nid = op[2]
            work = [(spec, parent) for spec in reversed(op[3:])]
            pop, push = work.pop, work.append
            while work:
                spec, into = pop()
                if spec.__class__ is str:  # a text node
                    node = Node(nid, "#text", spec, {}, "", "", [], [], into)
                else:
                    at = 0
                    if spec[0].__class__ is int:  # its own id, not the one after the previous node's
                        nid, at = spec[0], 1
                    if at == len(spec) - 1:  # [id, text]
                        node = Node(nid, "#text", spec[1], {}, "", "", [], [], into)
                    else:  # [tag, class, extra, ...children]
                        tag, extra = spec[at], spec[at + 2]
                        if tag.__class__ is not str:
                            raise TypeError(f"tag {tag!r}")
                        if extra:
                            attrs, events = extra.get("a"), extra.get("e")
                            node = Node(nid, tag, "", dict(attrs) if attrs else {}, spec[at + 1], extra.get("s", ""),
                                        list(events) if events else [], [], into)
                        else:
                            node = Node(nid, tag, "", {}, spec[at + 1], "", [], [], into)
                        for k in range(len(spec) - 1, at + 2, -1):
                            push((spec[k], node))
                if nid.__class__ is not int:
                    raise TypeError(f"node id {nid!r}")
                nodes[nid] = node
                nid += 1
                if into is not None:
                    into.children.append(node)
        except (TypeError, IndexError, KeyError, ValueError, AttributeError) as exc:
            raise PatchError(f"malformed tree operation: {exc}") from None

    def set_value(self, node_id: int, value: Any) -> None:
        """The user typed: the view holds the new value, as a browser input would."""
        self._node(node_id).attrs["value"] = value


# ---- selectors: tag, #id, .class, [attr], [attr=value], descendant and child combinators ----
_TOKEN = re.compile(r"\s*(>)\s*|\s+|([^\s>]+)")
_SIMPLE = re.compile(r"([#.]?)([\w\-]+)|\[([\w\-:]+)(?:([~^$*|]?=)\"?([^\"\]]*)\"?)?\]|(\*)")


class SelectorError(ValueError):
    """A selector the headless view does not understand."""


@dataclass(frozen=True)
class _Compound:
    tag: str | None
    ids: tuple[str, ...]
    classes: tuple[str, ...]
    attrs: tuple[tuple[str, str | None, str | None], ...]

    def matches(self, node: Node) -> bool:
        if node.tag == "#text":
            return False
        if self.tag and self.tag != "*" and node.tag != self.tag:
            return False
        if any(str(node.attrs.get("id", "")) != i for i in self.ids):
            return False
        cls = node.classes
        if any(c not in cls for c in self.classes):
            return False
        for name, op, value in self.attrs:
            if name not in node.attrs:
                return False
            actual = str(node.attrs[name]) if not isinstance(node.attrs[name], bool) else str(node.attrs[name]).lower()
            if op == "=" and actual != value:
                return False
            if op == "^=" and not actual.startswith(value or ""):
                return False
            if op == "$=" and not actual.endswith(value or ""):
                return False
            if op == "*=" and (value or "") not in actual:
                return False
            if op == "~=" and (value or "") not in actual.split():
                return False
        return True


def _parse_compound(text: str) -> _Compound:
    tag = None
    ids: list[str] = []
    classes: list[str] = []
    attrs: list[tuple[str, str | None, str | None]] = []
    pos = 0
    while pos < len(text):
        m = _SIMPLE.match(text, pos)
        if not m or m.end() == pos:
            raise SelectorError(f"cannot parse selector part {text!r} at {pos}")
        if m.group(6):
            tag = "*"
        elif m.group(3):
            attrs.append((m.group(3), m.group(4), m.group(5)))
        elif m.group(1) == "#":
            ids.append(m.group(2))
        elif m.group(1) == ".":
            classes.append(m.group(2))
        else:
            tag = m.group(2)
        pos = m.end()
    return _Compound(tag, tuple(ids), tuple(classes), tuple(attrs))


def parse_selector(selector: str) -> list[list[tuple[str, _Compound]]]:
    """'a > .b c, d' -> alternatives, each a list of (combinator, compound) from left to right."""
    alternatives = []
    for part in selector.split(","):
        part = part.strip()
        if not part:
            raise SelectorError(f"empty selector in {selector!r}")
        steps: list[tuple[str, _Compound]] = []
        combinator = " "
        for m in _TOKEN.finditer(part):
            if m.group(1):
                combinator = ">"
            elif m.group(2):
                steps.append((combinator, _parse_compound(m.group(2))))
                combinator = " "
        alternatives.append(steps)
    return alternatives


def _matches_chain(node: Node, steps: list[tuple[str, _Compound]], scope: Node) -> bool:
    comb, last = steps[-1]
    if not last.matches(node):
        return False
    if len(steps) == 1:
        return True
    rest = steps[:-1]
    parent = node.parent
    if comb == ">":
        return parent is not None and parent is not scope and _matches_chain(parent, rest, scope)
    while parent is not None and parent is not scope:
        if _matches_chain(parent, rest, scope):
            return True
        parent = parent.parent
    return False


def select_all(scope: Node, selector: str) -> list[Node]:
    alternatives = parse_selector(selector)
    return [n for n in scope.walk() if any(_matches_chain(n, steps, scope) for steps in alternatives)]


def select_one(scope: Node, selector: str) -> Node | None:
    alternatives = parse_selector(selector)
    for n in scope.walk():
        if any(_matches_chain(n, steps, scope) for steps in alternatives):
            return n
    return None
