"""Code protection: a bundle's logic.js minified with names mangled, and a private source map per module.

What it does to each module of logic.js (docs/internals.md section 3): the module's code (its ESM
header and body) goes through terser with `toplevel` mangling (a module's top-level names are locals
of its wrapper function), `compress` off (no transform that could change behaviour), property names,
globals and the wrapper's `require`, `module`, `exports` untouched, string literals kept, licence
comments (`/*!`, `@license`, `@preserve`) kept. The result is parsed once more by the engine that
will run it. The wrapper contract holds: `__mbDefine(path, function (require, module, exports) {\\n
<minified>\\n}, line, count)`, so the framework still reports a frame as `path:line:col`, now of the
minified code; `LogicMap` maps it back to the original file, line and column with the module's map.

terser (npm, BSD-2-Clause) runs inside a QuickJS engine of its own, with no host functions, a memory
limit and a CPU-time limit per module (`Minifier`): source that makes terser blow up is stopped there
and cannot reach the process. `vendor/terser.js` is a single bundle made by `scripts/vendor_terser.sh`
from pinned npm packages; its SHA-256 is checked before it is loaded.

logic.js is read back module by module from its lines (`split_logic`) and the split is confirmed by
the engine itself (`read_back`: running the file with a recorder for `__mbDefine` must give exactly the
calls the lines say), so text in a string, template or comment that only looks like a module's end
cannot make protection cut a module where the engine does not; the protected file is read back too.

One module fails alone: a module terser rejects, one over the limits, one whose output does not parse,
and every module after the time budget is delivered as written, with a `protect-skipped` warning that
names the file. A logic.js that is not in the compiler's format, or does not read back, is delivered as
written (one warning). Protection never fails a build.

It is obfuscation, not secrecy: strings, property names, the control flow and every API call are in
the delivered code (docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import quickjs

from .errors import CompileError
from .jssyntax import check_syntax
from .logic import WRAPPER_HEAD, LogicLinker
from .sourcemap import SourceMap, SourceMapError, decode_mappings, encode_mappings

#: SHA-256 of vendor/terser.js (scripts/vendor_terser.sh sets it); a bundle that differs is not loaded.
TERSER_SHA256 = "a5ef143ff47ca1fb4cf03f10efd1e8d82a51e2eb353c817ab914c53ec96c9118"
#: Heap of one minifier engine (terser itself takes about 20 MB; a 1 MB module about 150 MB more).
MINIFY_MEMORY_BYTES = 384 << 20
#: Stack of the thread terser runs on, and the engine's share of it (what a module's nesting may use).
MINIFY_THREAD_STACK_BYTES = 256 << 20
MINIFY_STACK_BYTES = 192 << 20
#: The engine's stack where a thread's stack size cannot be chosen (about 500 levels of nesting).
FALLBACK_STACK_BYTES = 4 << 20
#: Seconds terser may spend on one module (the engine's interrupt handler stops it).
MINIFY_SECONDS = 20.0
#: Seconds for all modules of one logic.js; the modules after it are delivered as written.
PROTECT_BUDGET_SECONDS = 60.0
#: Largest module (characters of header and body) that is minified; larger ones are delivered as written.
MAX_PROTECT_MODULE_CHARS = 2 << 20
#: Limits of the engine that runs a whole logic.js to read its modules back (`read_back`).
READ_BACK_MEMORY_BYTES = 768 << 20
READ_BACK_SECONDS = 30.0
#: The private map document's format (`map_document`).
MAP_FORMAT = 1
#: Warning code of a module delivered as written.
SKIPPED = "protect-skipped"

#: terser's options (https://terser.org/docs/options/): correctness first.
TERSER_OPTIONS: dict[str, Any] = {
    "toplevel": True,  # a module's top-level names are locals of its wrapper function
    "parse": {"bare_returns": True},  # `return` at a module's top level ends the wrapper function
    "compress": False,
    "mangle": {"reserved": ["require", "module", "exports"], "keep_classnames": True},
    "keep_classnames": True,  # `this.constructor.name` (custom errors) keeps working
    "format": {"comments": "some", "ascii_only": False},
    "sourceMap": {"asObject": True},
}

_DRIVER = """(function (code, options) {
  try {
    var r = __mbTerser.minify_sync({ "module.js": code }, JSON.parse(options));
    return JSON.stringify({ code: r.code, map: r.map });
  } catch (e) {
    if (e && e.name === "SyntaxError" && typeof e.line === "number")
      return JSON.stringify({ error: String(e.message), line: e.line, col: e.col });
    throw e;
  }
})"""
#: Records every `__mbDefine(path, factory, line, count)` call of a logic.js as the engine runs it: the
#: recorder is in place (and cannot be replaced) before the file's first statement, and builds its record
#: from primitives only, so code in the file cannot reach or rewrite it.
_RECORDER = """(function () {
  var out = "";
  Object.defineProperty(globalThis, "__mbDefine", { writable: false, configurable: false, enumerable: false,
    value: function (path, factory, line, count) {
      out += (typeof path === "string" ? path.length + ":" + path : "-1:") + ","
        + (typeof line === "number" ? line : "-") + "," + (typeof count === "number" ? count : "-") + ";";
    } });
  return function () { return out; };
})()"""
_DEFINE = re.compile(r'__mbDefine\(("(?:[^"\\\n]|\\.)*"), ')
_TAIL = re.compile(r"\}, (\d+), (\d+)(, \[[0-9,]*\])?\);")
_FRAME = re.compile(r"((?:[\w@.-]+/)*[\w@.-]+\.js):(\d+):(\d+)")


_STACK_LOCK = threading.Lock()


class MinifyFailed(Exception):
    """terser could not minify a module; the message says why (for the file's warning)."""


class LogicFormatError(ValueError):
    """logic.js is not in the compiler's format (docs/internals.md section 3)."""


_terser_source: str | None = None


def terser_source() -> str:
    """vendor/terser.js, once its SHA-256 is checked."""
    global _terser_source
    if _terser_source is None:
        data = resources.files("minibox.compiler").joinpath("vendor/terser.js").read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != TERSER_SHA256:
            raise RuntimeError(f"vendor/terser.js has SHA-256 {digest}, expected {TERSER_SHA256}: "
                               "rebuild it with scripts/vendor_terser.sh")
        _terser_source = data.decode("utf-8")
    return _terser_source


def terser_version() -> str:
    meta = json.loads(resources.files("minibox.compiler").joinpath("vendor/terser.json").read_text("utf-8"))
    return str(meta["terser"])


class Minifier:
    """terser in a QuickJS engine of its own, on a thread of its own with a deep stack (terser's parser
    and printer recurse once per level of nesting: a 20,000-term string concatenation needs about
    150 MB of stack). The engine is loaded on first use and replaced after any failure (a module that
    ran it out of memory or time may have left it in any state). Use as a context manager, or `close()`."""

    def __init__(self, *, memory_bytes: int = MINIFY_MEMORY_BYTES, seconds: float = MINIFY_SECONDS,
                 stack_bytes: int = MINIFY_STACK_BYTES) -> None:
        self.memory_bytes, self.seconds, self.stack_bytes = memory_bytes, seconds, stack_bytes
        self._ctx: Any = None  # the engine and its driver: touched only on the minifier's thread
        self._fn: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._thread_stack = MINIFY_STACK_BYTES
        self._options = json.dumps(TERSER_OPTIONS)

    def __enter__(self) -> Minifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.submit(self._drop).result()
            self._pool.shutdown()
            self._pool = None

    def _thread(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with _STACK_LOCK:  # the stack size applies to threads started while it is set
                try:
                    old = threading.stack_size(MINIFY_THREAD_STACK_BYTES)
                except (ValueError, RuntimeError):  # no way to choose a thread's stack here
                    old = None
                    self.stack_bytes = min(self.stack_bytes, FALLBACK_STACK_BYTES)
                    self._thread_stack = FALLBACK_STACK_BYTES
                try:
                    pool = ThreadPoolExecutor(1, thread_name_prefix="mb-terser")
                    pool.submit(lambda: None).result()  # starts the thread now
                finally:
                    if old is not None:
                        threading.stack_size(old)
            self._pool = pool
        return self._pool

    def _drop(self) -> None:
        self._ctx = self._fn = None

    def _out_of_memory(self, first_line: str) -> bool:
        """QuickJS out of memory may not even manage its error's message (it says "null")."""
        if "out of memory" in first_line or first_line in ("", "null"):
            return True
        used = self._ctx.memory().get("malloc_size", 0) if self._ctx is not None else 0
        return bool(used >= 0.9 * self.memory_bytes)

    def _engine(self) -> Any:
        if self._fn is None:
            ctx = quickjs.Context()
            ctx.set_memory_limit(self.memory_bytes)
            ctx.set_max_stack_size(self.stack_bytes)
            ctx.set_time_limit(self.seconds)
            ctx.eval(terser_source())
            self._ctx, self._fn = ctx, ctx.eval(_DRIVER)
        return self._fn

    def minify(self, code: str) -> tuple[str, dict[str, Any]]:
        """(minified code, revision 3 map of it onto `code`); raises MinifyFailed."""
        return self._thread().submit(self._minify, code).result()

    def defines(self, logic_js: str) -> list[Define]:
        """The `__mbDefine` calls a logic.js makes when the engine runs it, in order (in an engine of its
        own, with the read-back limits); raises MinifyFailed if it does not run to its end."""
        return self._thread().submit(self._defines, logic_js).result()

    def _defines(self, logic_js: str) -> list[Define]:
        ctx = quickjs.Context()
        ctx.set_memory_limit(READ_BACK_MEMORY_BYTES)
        ctx.set_max_stack_size(min(MINIFY_STACK_BYTES, self._thread_stack))
        ctx.set_time_limit(READ_BACK_SECONDS)
        try:
            record = ctx.eval(_RECORDER)
            ctx.eval(logic_js)
            text = record()
        except Exception as exc:  # a JS error, the limits, a value the binding could not convert
            first = str(exc).split("\n", 1)[0]
            raise MinifyFailed(f"logic.js does not run to its end: {first[:200]}") from None
        finally:
            del ctx
        try:
            return _parse_record(str(text))
        except ValueError:  # a line or count that is not a whole number
            raise MinifyFailed("logic.js defines modules with line numbers that are not whole numbers") from None

    def _minify(self, code: str) -> tuple[str, dict[str, Any]]:
        try:
            result = json.loads(self._engine()(code, self._options))
        except quickjs.JSException as exc:
            first = str(exc).split("\n", 1)[0].strip()
            out_of_memory = self._out_of_memory(first)
            self._drop()
            if "interrupted" in first:
                raise MinifyFailed(f"terser took over {self.seconds:g} s") from None
            if "stack overflow" in first or "call stack" in first:
                raise MinifyFailed("too deeply nested for terser") from None
            if out_of_memory:
                raise MinifyFailed(f"terser needed over {self.memory_bytes >> 20} MB") from None
            raise MinifyFailed(f"terser failed: {first[:200]}") from None
        except Exception as exc:  # a value the binding could not convert, a result that is not JSON
            self._drop()
            raise MinifyFailed(f"terser failed: {type(exc).__name__}") from None
        if "error" in result:
            raise MinifyFailed(f"terser cannot parse it: {result['error']} (line {result['line']})")
        if not isinstance(result.get("code"), str) or not isinstance(result.get("map"), dict):
            raise MinifyFailed("terser returned no code")
        return result["code"], result["map"]


# ---- logic.js, module by module -----------------------------------------------------------------------

#: One `__mbDefine` call: path, and the line and line count when it has them.
Define = tuple[str, int | None, int | None]


def _parse_record(text: str) -> list[Define]:
    """The recorder's text (`<length>:<path>,<line>,<count>;` per call, `-` for none) as a list."""
    out: list[Define] = []
    i = 0
    while i < len(text):
        colon = text.index(":", i)
        n = int(text[i:colon])
        start = colon + 1 + max(n, 0)
        end = text.index(";", start)
        _, line, count = text[start:end].split(",")
        out.append((text[colon + 1 : start] if n >= 0 else "?", None if line == "-" else int(line),
                    None if count == "-" else int(count)))
        i = end + 1
    return out


def defines_of(parts: list[str | Module]) -> list[Define]:
    """The `__mbDefine` calls the parts of a logic.js make, as `split_logic` read them."""
    out: list[Define] = []
    for p in parts:
        if isinstance(p, str):
            m = _DEFINE.match(p)
            out.append((json.loads(m.group(1)) if m else "?", None, None))
        else:
            out.append((p.path, p.line, p.body.count("\n") + 1))
    return out


def read_back(text: str, minifier: Minifier) -> list[str | Module]:
    """`split_logic`, confirmed by the engine: the calls logic.js makes when it runs are exactly the ones
    the lines say. Text that only looks like a module's end (in a string, a template or a comment) would
    split a module where the engine does not; the call the engine makes for it has another line count,
    and no code in the file can hide that call. Raises LogicFormatError."""
    parts = split_logic(text)
    try:
        ran = minifier.defines(text)
    except MinifyFailed as exc:
        raise LogicFormatError(str(exc)) from None
    if ran != defines_of(parts):
        raise LogicFormatError("logic.js does not run as its lines read (text that looks like a module's end?)")
    return parts


@dataclass
class Module:
    """One `__mbDefine` call of logic.js with line numbers (a compiled JS file)."""

    path: str
    path_json: str
    header: str
    body: str
    #: the call's header columns as written (", [col,line,...]") or ""
    header_columns: str = ""
    #: the define line in the logic.js it was read from
    line: int = 0

    @property
    def code(self) -> str:
        """What the module runs, laid out as in the wrapper: the header on line 1, the body from line 2."""
        return f"{self.header}\n{self.body}"

    def header_lines(self) -> list[tuple[int, int]]:
        """(offset in the header, source line) of the header's imports."""
        nums = [int(n) for n in re.findall(r"\d+", self.header_columns)]
        head = len(f"__mbDefine({self.path_json}, {WRAPPER_HEAD}")
        return [(nums[i] - head - 1, nums[i + 1]) for i in range(0, len(nums) - 1, 2)]

    def define(self, line: int, header: str | None = None, body: str | None = None, columns: str | None = None) -> str:
        header = self.header if header is None else header
        body = self.body if body is None else body
        columns = self.header_columns if columns is None else columns
        count = body.count("\n") + 1
        return f"__mbDefine({self.path_json}, {WRAPPER_HEAD}{header}\n{body}\n}}, {line}, {count}{columns});\n"


def split_logic(text: str) -> list[str | Module]:
    """logic.js as its parts: modules with line numbers, and other lines (the preamble, `.json` modules,
    package aliases, modules that throw a SyntaxError) as text. Raises LogicFormatError."""
    lines = text.split("\n")
    preamble = LogicLinker().text().split("\n")[:-1]
    if lines[: len(preamble)] != preamble:
        raise LogicFormatError("logic.js does not start with the compiler's preamble")
    parts: list[str | Module] = []
    i = len(preamble)
    head = f", {WRAPPER_HEAD}"
    while i < len(lines):
        line = lines[i]
        if i == len(lines) - 1:
            if line:
                raise LogicFormatError("logic.js does not end with a newline")
            break
        m = _DEFINE.match(line)
        if m is None:
            raise LogicFormatError(f"logic.js line {i + 1} is not a module definition")
        if not line.startswith(head, m.end() - 2):
            if not line.endswith(");"):
                raise LogicFormatError(f"logic.js line {i + 1} is not a one-line module definition")
            parts.append(line + "\n")
            i += 1
            continue
        try:
            path = json.loads(m.group(1))
        except ValueError:
            raise LogicFormatError(f"logic.js line {i + 1}: a module path that is not a JSON string") from None
        define_line = i + 1
        j = i + 1
        while j < len(lines):
            t = _TAIL.fullmatch(lines[j])
            if t is not None and int(t.group(1)) == define_line and int(t.group(2)) == j - i - 1:
                break
            j += 1
        else:
            raise LogicFormatError(f"the module of logic.js line {define_line} ({path}) has no end")
        header = line[m.end() - 2 + len(head):]
        parts.append(Module(str(path), m.group(1), header, "\n".join(lines[i + 1 : j]), t.group(3) or "",
                            define_line))
        i = j + 1
    return parts


# ---- protection -------------------------------------------------------------------------------------------


@dataclass
class Protection:
    """A protected logic.js, its maps (module path -> revision 3 map onto the original file) and what was
    left as written (warnings that name the files)."""

    text: str
    maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[CompileError] = field(default_factory=list)
    modules: int = 0
    seconds: float = 0.0
    bytes_before: int = 0
    bytes_after: int = 0

    @property
    def protected(self) -> int:
        return len(self.maps)

    def summary(self) -> dict[str, Any]:
        """The figures the platform's check report shows."""
        return {"terser": terser_version(), "modules": self.modules, "protected": self.protected,
                "skipped": [{"file": w.file, "message": w.message} for w in self.warnings],
                "logic_bytes": {"before": self.bytes_before, "after": self.bytes_after},
                "seconds": round(self.seconds, 2)}


def _skipped(path: str, why: str) -> CompileError:
    return CompileError(path, 1, 1, f"not protected: {why}; delivered as written", SKIPPED, "warning")


def _original_map(mod: Module, terser_map: dict[str, Any]) -> dict[str, Any]:
    """terser's map (onto the module's code: header on line 1, body from line 2) as a map onto the file
    itself: body lines move up one; positions in the header go to the line of their import statement."""
    header = mod.header_lines()

    def import_line(col: int) -> int:
        at = 1
        for off, line in header:
            if off <= col:
                at = line
        return at

    lines = []
    for segments in decode_mappings(str(terser_map.get("mappings", ""))):
        out = []
        for seg in segments:
            if len(seg) < 4:
                out.append(seg)
            elif seg[2] == 0:
                out.append((seg[0], 0, import_line(seg[3]) - 1, 0, *seg[4:]))
            else:
                out.append((seg[0], 0, seg[2] - 1, seg[3], *seg[4:]))
        lines.append(out)
    return {"version": 3, "file": mod.path, "sources": [mod.path], "names": list(terser_map.get("names") or []),
            "mappings": encode_mappings(lines)}


def protect_module(mod: Module, minifier: Minifier) -> tuple[str, dict[str, Any]]:
    """(minified code, map onto the original file) of one module; raises MinifyFailed."""
    code = mod.code
    if len(code) > MAX_PROTECT_MODULE_CHARS:
        raise MinifyFailed(f"over {MAX_PROTECT_MODULE_CHARS >> 20} MB")
    out, terser_map = minifier.minify(code)
    err = check_syntax(mod.path, out)
    if err is not None:  # never deliver what the engine would not load
        raise MinifyFailed(f"the minified code does not parse ({err.message})")
    try:
        return out, _original_map(mod, terser_map)
    except (SourceMapError, TypeError, ValueError) as exc:
        raise MinifyFailed(f"terser's source map is not usable ({exc})") from None


def protect_logic(text: str, *, minifier: Minifier | None = None, budget_s: float = PROTECT_BUDGET_SECONDS,
                  clock: Callable[[], float] = time.monotonic,
                  progress: Callable[[str, int, int], None] | None = None) -> Protection:
    """Protect every module of a logic.js that can be (see the module docstring)."""
    started = clock()
    size = len(text.encode())
    own = minifier is None
    minifier = minifier or Minifier()

    def as_written(why: str, modules: int = 0) -> Protection:
        return Protection(text, warnings=[_skipped("logic.js", why)], modules=modules, bytes_before=size,
                          bytes_after=size, seconds=clock() - started)

    try:
        try:
            parts = read_back(text, minifier)
        except LogicFormatError as exc:
            return as_written(str(exc))
        linker = LogicLinker()
        result = Protection("", modules=sum(isinstance(p, Module) for p in parts), bytes_before=size)
        done = 0
        for part in parts:
            if isinstance(part, str):
                linker.add_text(part)
                continue
            if progress is not None:
                progress(f"protecting {part.path}", done, result.modules)
            done += 1
            if clock() - started > budget_s:
                result.warnings.append(_skipped(part.path, f"the {budget_s:g} s for protecting all modules ran out"))
                linker.add_text(part.define(linker.line))
                continue
            try:
                code, source_map = protect_module(part, minifier)
            except MinifyFailed as exc:
                result.warnings.append(_skipped(part.path, str(exc)))
                linker.add_text(part.define(linker.line))
                continue
            result.maps[part.path] = source_map
            linker.add_text(part.define(linker.line, header="", body=code, columns=""))
        out = linker.text()
        # what is delivered must run as it reads too, defining the same modules in the same order
        try:
            same = [d[0] for d in defines_of(read_back(out, minifier))] == [d[0] for d in defines_of(parts)]
        except LogicFormatError as exc:
            return as_written(f"the protected logic.js does not read back: {exc}", result.modules)
        if not same:
            return as_written("the protected logic.js does not define the same modules", result.modules)
    finally:
        if own:
            minifier.close()
    result.text = out
    result.seconds = clock() - started
    result.bytes_after = len(out.encode())
    return result


def map_document(protection: Protection) -> dict[str, Any]:
    """The private map of a protected logic.js (what `LogicMap` reads): never part of a package."""
    return {"format": MAP_FORMAT, "kind": "minibox-logic-map", "terser": terser_version(),
            "logic_sha256": hashlib.sha256(protection.text.encode()).hexdigest(), "modules": protection.maps}


def protect_bundle(bundle_dir: Path, *, minifier: Minifier | None = None,
                   budget_s: float = PROTECT_BUDGET_SECONDS,
                   progress: Callable[[str, int, int], None] | None = None) -> tuple[Protection, dict[str, Any]]:
    """Protect a bundle directory in place (logic.js and its hash in bundle.json); returns the protection
    and its map document, which the caller keeps outside the bundle."""
    logic = bundle_dir / "logic.js"
    protection = protect_logic(logic.read_text("utf-8"), minifier=minifier, budget_s=budget_s, progress=progress)
    data = protection.text.encode("utf-8")
    logic.write_bytes(data)
    config_path = bundle_dir / "bundle.json"
    config = json.loads(config_path.read_text("utf-8"))
    if isinstance(config.get("files"), dict):
        config["files"]["logic.js"] = hashlib.sha256(data).hexdigest()
    config_path.write_text(json.dumps(config, sort_keys=True, ensure_ascii=False, indent=1), "utf-8")
    return protection, map_document(protection)


# ---- mapping frames back ----------------------------------------------------------------------------------


class LogicMap:
    """A map document loaded for mapping stack frames of protected modules back to their files."""

    def __init__(self, doc: dict[str, Any]) -> None:
        if not isinstance(doc, dict) or doc.get("format") != MAP_FORMAT or not isinstance(doc.get("modules"), dict):
            raise SourceMapError("not a minibox logic map")
        self._raw: dict[str, Any] = doc["modules"]
        self._maps: dict[str, SourceMap] = {}

    def _module(self, path: str) -> SourceMap | None:
        if path not in self._maps:
            raw = self._raw.get(path)
            if raw is None:
                return None
            self._maps[path] = SourceMap.from_json(raw)
        return self._maps[path]

    def position(self, path: str, line: int, column: int) -> tuple[int, int] | None:
        """The original 1-based (line, column) of a 1-based position in protected module `path`."""
        sm = self._module(path)
        found = sm.lookup(line - 1, column - 1) if sm is not None else None
        return (found.line + 1, found.column + 1) if found is not None else None

    def frame(self, frame: str) -> str:
        """`path:line:col` of protected code as `path:line:col` of the original; anything else unchanged."""
        m = _FRAME.fullmatch(frame)
        if m is None:
            return frame
        found = self.position(m.group(1), int(m.group(2)), int(m.group(3)))
        return f"{m.group(1)}:{found[0]}:{found[1]}" if found is not None else frame

    def text(self, text: str) -> str:
        """Every `path:line:col` in a text (a stack) mapped."""
        return _FRAME.sub(lambda m: self.frame(m.group(0)), text)


__all__ = ["LogicMap", "Minifier", "MinifyFailed", "Protection", "map_document",
           "protect_bundle", "protect_logic", "split_logic"]
