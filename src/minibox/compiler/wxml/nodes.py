"""The WXML syntax tree: declarative node classes with named fields. Offsets index the normalised source."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Attr:
    name: str
    value: str | None  # None: written without a value (`<checkbox checked>`); entities undecoded
    pos: int  # offset of the name
    value_pos: int  # offset of the first character of the value


@dataclass(slots=True)
class Text:
    value: str  # raw text, entities undecoded, mustaches inside
    pos: int


@dataclass(slots=True)
class Element:
    tag: str
    attrs: list[Attr]
    children: list[Element | Text] = field(default_factory=list)
    pos: int = 0
    self_closing: bool = False

    def attr(self, name: str) -> Attr | None:
        for a in self.attrs:
            if a.name == name:
                return a
        return None


@dataclass(slots=True)
class Document:
    path: str  # package path of the file, with `.wxml`
    source: str  # normalised source (no BOM, `\n` line ends)
    children: list[Element | Text]
