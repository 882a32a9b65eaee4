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

// ---- module system (logic.js: __mbDefine(path, factory)) ----
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

globalThis.__mbDefine = function (path, factory) {
  MB.modules[path] = { factory: factory, module: null };
};

function mbResolveModule(from, request) {
  var candidates = [];
  function add(base) {
    base = mbNormalize(base);
    candidates.push(base, base + ".js", base + "/index.js");
  }
  if (request.charAt(0) === "/") add(request);
  else if (request.slice(0, 2) === "./" || request.slice(0, 3) === "../") add(mbDirname(from) + "/" + request);
  else {
    // bare name: same-dir relative (WeChat allows it), then miniprogram_npm walking up.
    add(mbDirname(from) + "/" + request);
    var dir = mbDirname(from);
    for (;;) {
      add((dir ? dir + "/" : "") + "miniprogram_npm/" + request);
      if (!dir) break;
      dir = mbDirname(dir);
    }
  }
  for (var i = 0; i < candidates.length; i++) {
    if (MB.modules[candidates[i]]) return candidates[i];
  }
  return null;
}

function mbRequire(path) {
  var rec = MB.modules[path];
  if (!rec) throw new Error('module "' + path + '" is not defined');
  if (rec.module) return rec.module.exports;
  var module = { exports: {} };
  rec.module = module;
  var localRequire = function (request) {
    if (typeof request !== "string") throw new TypeError("require args must be a string");
    var resolved = mbResolveModule(path, request);
    if (!resolved) throw new Error('module "' + mbNormalize(mbDirname(path) + "/" + request) + '" is not defined, require args is \'' + request + "'");
    return mbRequire(resolved);
  };
  rec.factory.call(module.exports, localRequire, module, module.exports);
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
