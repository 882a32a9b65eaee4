// minibox framework, part 0: the sandbox's globals, the module system, shared helpers.
// Runs inside the mini-program's JS engine; it talks to the host only through __host_call.
"use strict";
// Intrinsics the framework relies on, captured before any mini-program code can replace them.
var mbStringify = JSON.stringify.bind(JSON);
var mbParseJson = JSON.parse.bind(JSON);
var __mb = globalThis.__mb || (globalThis.__mb = {});
var MB = {
  out: [],            // messages for the host, collected after each turn
  afterFlush: [],     // callbacks that run once the view has applied this turn's patches
  nextNodeId: 1,
  nodes: new Map(),   // node id -> rendered node, for events and queries
  config: null,       // bundle.json + system info, set by init
  now: 0,
  modules: Object.create(null),
  defs: Object.create(null),   // component/page definitions by path
  currentDefPath: null,
};

// No code from strings: WeChat forbids eval and new Function except new Function('return this').
(function lockDownCodeFromStrings() {
  var realFunction = Function;
  var globalObject = globalThis;
  function SafeFunction() {
    var body = arguments.length ? String(arguments[arguments.length - 1]).trim() : "";
    if (arguments.length <= 1 && (body === "return this" || body === "return this;")) {
      return function () { return globalObject; };
    }
    throw new EvalError("new Function is not allowed in mini-programs");
  }
  SafeFunction.prototype = realFunction.prototype;
  try {
    Object.defineProperty(realFunction.prototype, "constructor", { value: SafeFunction, writable: false, configurable: false });
  } catch (e) { /* frozen already */ }
  var protos = [
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(async function* () {}),
  ];
  protos.forEach(function (p) {
    try {
      Object.defineProperty(p, "constructor", { value: SafeFunction, writable: false, configurable: false });
    } catch (e) { /* ignore */ }
  });
  globalThis.Function = SafeFunction;
  globalThis.eval = function () { throw new EvalError("eval is not allowed in mini-programs"); };
  ["WebAssembly", "SharedArrayBuffer", "Atomics", "FinalizationRegistry", "WeakRef"].forEach(function (name) {
    try { delete globalThis[name]; } catch (e) { /* ignore */ }
  });
})();

function mbHostCall(api, args) {
  var reply = __host_call(mbStringify({ api: api, args: args === undefined ? {} : args }));
  return mbParseJson(reply);
}

MB.ops = [];  // patch operations of the current turn, flushed in order with other messages

function mbFlushOps() {
  if (MB.ops.length) { MB.out.push({ t: "patch", ops: MB.ops }); MB.ops = []; }
}

function mbEmit(msg) { mbFlushOps(); MB.out.push(msg); }

function mbWarn(text) { mbEmit({ t: "log", level: "warn", args: [String(text)] }); }

// WeChat's app service has a `global` object shared by all modules (webpack bundles read
// `global.xxx`): reads fall through to the standard globals, writes stay on it.
if (typeof globalThis.global === "undefined") {
  Object.defineProperty(globalThis, "global", { value: Object.create(globalThis), writable: false, configurable: false });
}

// ---- module system (logic.js: __mbDefine(path, factory, firstLine, lineCount)) ----
function mbNormalize(path) {
  var parts = [];
  path.split("/").forEach(function (seg) {
    if (seg === "" || seg === ".") return;
    if (seg === "..") { parts.pop(); return; }
    parts.push(seg);
  });
  return parts.join("/");
}

function mbDirname(path) {
  var i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

// Where each module's code is in logic.js: [define line, source line count, path, header columns], in
// line order; header columns are [column, source line, ...] of the `require`s of its imports.
// Module code starts far below any framework file's last line (compiler/logic.py LOGIC_FIRST_LINE),
// so a stack frame at such a line of the unnamed script is in logic.js.
MB.moduleLines = [];

globalThis.__mbDefine = function (path, factory, line, count, headerColumns) {
  MB.modules[path] = { factory: factory, module: null };
  if (typeof line === "number" && typeof count === "number") MB.moduleLines.push([line, count, path, headerColumns]);
};

function mbModuleAt(line) {
  var list = MB.moduleLines, lo = 0, hi = list.length - 1, found = null;
  while (lo <= hi) {
    var mid = (lo + hi) >> 1;
    if (list[mid][0] <= line) { found = list[mid]; lo = mid + 1; } else hi = mid - 1;
  }
  return found && line <= found[0] + found[1] + 1 ? found : null;
}

// Stack frames name the mini-program's own files and lines (`at onLoad (pages/a/a.js:12:5)`), in
// QuickJS's own format otherwise. Mini-program code cannot replace the hook (its CallSites reach
// framework functions): assigning Error.prepareStackTrace is ignored.
(function installStackMapping() {
  function frame(cs) {
    var name = cs.getFunctionName() || "<anonymous>";
    if (cs.isNative()) return "    at " + name + " (native)";
    var file = cs.getFileName(), line = cs.getLineNumber(), col = cs.getColumnNumber();
    var mod = file === "<input>" ? mbModuleAt(line) : null;
    if (mod) {
      line -= mod[0];
      if (line < 1) {  // the wrapper's line: the module's imports, at the line of the import statement
        var cols = mod[3] || [], at = 1;
        for (var i = 0; i + 1 < cols.length && cols[i] <= col; i += 2) at = cols[i + 1];
        line = at;
        col = 1;
      }
      file = mod[2];
    }
    return "    at " + name + " (" + file + ":" + line + ":" + col + ")";
  }
  function prepare(error, callSites) {
    try {
      var out = "";
      for (var i = 0; i < callSites.length; i++) out += frame(callSites[i]) + "\n";
      return out;
    } catch (e) {
      return "";
    }
  }
  try {
    Error.prepareStackTrace = prepare;  // the engine's own setter keeps it
    Object.defineProperty(Error, "prepareStackTrace", {
      get: function () { return prepare; }, set: function () { /* ignored */ }, configurable: false,
    });
  } catch (e) { /* an engine without the hook keeps its own stacks */ }
})();

// ES modules converted to CommonJS by the compiler (compiler/esm.py) call these, as Babel's helpers.
var mbLiveImports = new WeakMap();  // exports object -> functions refreshing importers' bindings
function mbRefreshImports(exportsObj) {
  var list = exportsObj && (typeof exportsObj === "object" || typeof exportsObj === "function")
    ? mbLiveImports.get(exportsObj) : null;
  if (list) list.forEach(function (fn) { try { fn(); } catch (e) { /* not initialised yet */ } });
}
var mbNamespaces = new WeakMap();
Object.defineProperty(globalThis, "__mbInterop", { writable: false, configurable: false, value: Object.freeze({
  esm: function (exportsObj, getters) {
    Object.defineProperty(exportsObj, "__esModule", { value: true, configurable: true });
    Object.keys(getters).forEach(function (k) {
      Object.defineProperty(exportsObj, k, { enumerable: true, configurable: true, get: getters[k] });
    });
  },
  def: function (m) { return m && m.__esModule ? m : { default: m }; },
  ns: function (m) {
    if (m && m.__esModule) return m;
    if (m === null || (typeof m !== "object" && typeof m !== "function")) return { default: m };
    var cached = mbNamespaces.get(m);
    if (cached) return cached;
    var ns = {};
    Object.keys(m).forEach(function (k) {
      if (k === "default") return;
      var d = Object.getOwnPropertyDescriptor(m, k);
      if (d && (d.get || d.set)) Object.defineProperty(ns, k, d); else ns[k] = m[k];
    });
    ns.default = m;
    mbNamespaces.set(m, ns);
    return ns;
  },
  star: function (exportsObj, m) {
    if (!m || (typeof m !== "object" && typeof m !== "function")) return;
    Object.keys(m).forEach(function (k) {
      if (k === "default" || k === "__esModule" || Object.prototype.hasOwnProperty.call(exportsObj, k)) return;
      Object.defineProperty(exportsObj, k, { enumerable: true, configurable: true, get: function () { return m[k]; } });
    });
  },
  live: function (m, fn) {
    try { fn(); } catch (e) { /* a circular import not initialised yet: refreshed when it has loaded */ }
    if (m && (typeof m === "object" || typeof m === "function")) {
      var list = mbLiveImports.get(m);
      if (!list) mbLiveImports.set(m, list = []);
      list.push(fn);
    }
  },
}) });
// `import()` of a module: the sandbox loads no code at run time.
Object.defineProperty(globalThis, "__mbImport", { writable: false, configurable: false, value: function (spec) {
  return Promise.reject(new Error('import("' + String(spec) + '"): dynamic import() is not supported in mini-programs, use require()'));
} });

function mbResolveModule(from, request) {
  var candidates = [];
  function add(base) {
    base = mbNormalize(base);
    candidates.push(base, base + ".js", base + "/index.js");
  }
  if (request.charAt(0) === "/") add(request);
  else if (request.slice(0, 2) === "./" || request.slice(0, 3) === "../" || request === "." || request === "..") {
    add(mbDirname(from) + "/" + request);
  } else {
    // bare name: same-dir relative (WeChat allows it), then miniprogram_npm walking up (a package may
    // use one it did not declare when it is there), then the package root.
    add(mbDirname(from) + "/" + request);
    var dir = mbDirname(from);
    for (;;) {
      add((dir ? dir + "/" : "") + "miniprogram_npm/" + request);
      if (!dir) break;
      dir = mbDirname(dir);
    }
    add(request);
  }
  for (var i = 0; i < candidates.length; i++) {
    if (MB.modules[candidates[i]]) return candidates[i];
  }
  return null;
}

// A module that throws while loading is not cached (as Node): the next require runs it again.
function mbRequire(path) {
  var rec = MB.modules[path];
  if (!rec) throw new Error('module "' + path + '" is not defined');
  if (rec.module) return rec.module.exports;
  var module = { exports: {} };
  rec.module = module;
  var localRequire = function (request, onLoad, onError) {
    if (typeof request !== "string") throw new TypeError("require args must be a string");
    if (typeof onLoad === "function" || typeof onError === "function") {  // require(path, cb, errCb)
      localRequire.async(request).then(onLoad, onError);
      return undefined;
    }
    var resolved = mbResolveModule(path, request);
    if (!resolved) throw new Error('module "' + mbNormalize(mbDirname(path) + "/" + request) + '" is not defined, require args is \'' + request + "'");
    return mbRequire(resolved);
  };
  localRequire.async = function (request) {
    return new Promise(function (resolve) { resolve(localRequire(request)); });
  };
  try {
    rec.factory.call(module.exports, localRequire, module, module.exports);
  } catch (e) {
    rec.module = null;
    throw e;
  }
  mbRefreshImports(module.exports);
  return module.exports;
}

// ---- small helpers ----
function mbIsPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function mbClone(v) {
  if (v === null || typeof v !== "object") return v;
  if (v instanceof Date) return new Date(v.getTime());
  if (Array.isArray(v)) return v.map(mbClone);
  var out = {};
  for (var k in v) if (Object.prototype.hasOwnProperty.call(v, k)) {
    var x = v[k];
    if (typeof x !== "function") out[k] = mbClone(x);
  }
  return out;
}

function mbEqual(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  var ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (var i = 0; i < ka.length; i++) if (!mbEqual(a[ka[i]], b[ka[i]])) return false;
  return true;
}

function mbParseQuery(qs) {
  var out = {};
  if (!qs) return out;
  qs.split("&").forEach(function (pair) {
    if (!pair) return;
    var i = pair.indexOf("=");
    var k = i < 0 ? pair : pair.slice(0, i);
    var v = i < 0 ? "" : pair.slice(i + 1);
    try { k = decodeURIComponent(k); } catch (e) { /* keep raw */ }
    out[k] = v;  // WeChat passes query values undecoded
  });
  return out;
}
