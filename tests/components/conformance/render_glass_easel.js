// Render mini-program pages with glass-easel (WeChat's open-source component framework) and print
// their DOM trees as JSON. Used by bench/conformance_vant.py as the reference for minibox.
//
//   node render_glass_easel.js <spec.json>
//
// spec: { "modules": <node_modules dir holding glass-easel, its adapter and template compiler, jsdom>,
//         "root": <project dir>, "pages": ["pages/button/index", ...], "system": {getSystemInfoSync()},
//         "settleMs": 1000 }
//         "out": <file to write the result to> }
// Output: { "<page>": [tree...] | {"error": "..."} }, trees as {t, cls, a, c} / {x}.
"use strict";
const fs = require("fs");
const path = require("path");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const mod = (name) => require(path.join(spec.modules, name));
const { JSDOM } = mod("jsdom");
const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>");
global.window = dom.window;
global.document = dom.window.document;
const adapter = mod("glass-easel-miniprogram-adapter");
const glassEasel = adapter.glassEasel;
const { TmplGroup } = mod("glass-easel-template-compiler");
// WeChat's view has the ids written in WXML; glass-easel writes them to the DOM only when asked.
glassEasel.globalOptions.writeIdToDOM = true;

const root = spec.root;
const read = (rel) => fs.readFileSync(path.join(root, rel), "utf8");
const exists = (rel) => fs.existsSync(path.join(root, rel));
const norm = (p) => path.posix.normalize(p).replace(/^\/+/, "");

// ---- every component (and page) reachable from the pages ----
const components = new Map(); // path -> json
function resolveUsing(from, target) {
  if (target.startsWith("/")) return norm(target);
  if (target.startsWith(".")) return norm(path.posix.join(path.posix.dirname(from), target));
  let dir = path.posix.dirname(from);
  for (;;) {
    const cand = norm(path.posix.join(dir === "." ? "" : dir, "miniprogram_npm", target));
    if (exists(cand + ".json")) return cand;
    if (exists(cand + "/index.json")) return cand + "/index";
    if (dir === "." || dir === "") break;
    dir = path.posix.dirname(dir);
  }
  return norm(path.posix.join(path.posix.dirname(from), target));
}
function collect(p) {
  if (components.has(p)) return;
  const json = exists(p + ".json") ? JSON.parse(read(p + ".json")) : {};
  const using = {};
  for (const [tag, target] of Object.entries(json.usingComponents || {})) using[tag] = resolveUsing(p, target);
  // glass-easel resolves usingComponents relative to the using component: give absolute paths
  json.usingComponents = Object.fromEntries(Object.entries(using).map(([k, v]) => [k, "/" + v]));
  components.set(p, json);
  Object.values(using).forEach(collect);
}
spec.pages.forEach(collect);

// ---- templates and WXS ----
const group = new TmplGroup();
const wxsDone = new Set();
function addWxs(rel) {
  if (wxsDone.has(rel)) return;
  wxsDone.add(rel);
  // WXS gives `x.constructor` as a type-name string ("Object", "Array", ...); the compiler's runtime
  // runs WXS as plain JS, where it is a function. Rewrite the reads so the reference behaves as WeChat.
  // WXS string literals keep an unknown escape (`'\d'` is backslash + d; vant's add-unit.wxs relies
  // on it), JS drops the backslash: double such backslashes so the reference behaves as WeChat.
  const src = read(rel).replace(/\\([^bfnrtv0'"\\xu\n\r])/g, "\\\\$1").replace(/([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[[^\]]+\])*)\.constructor\b/g, "__wxsConstructor($1)");
  group.addScript(rel.replace(/\.wxs$/, ""), src);
  group.addScript(rel, src);
  for (const m of src.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    addWxs(norm(path.posix.join(path.posix.dirname(rel), m[1])));
  }
}
// every WXML file of the project (components, and the files they <include> or <import>)
function wxmlFiles(dir) {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir ? dir + "/" + e.name : e.name;
    if (e.isDirectory()) return wxmlFiles(rel);
    return e.name.endsWith(".wxml") ? [rel.slice(0, -5)] : [];
  });
}
for (const p of wxmlFiles("")) {
  const wxml = read(p + ".wxml");
  for (const m of wxml.matchAll(/<wxs[^>]*src=["']([^"']+)["']/g)) addWxs(norm(path.posix.join(path.posix.dirname(p), m[1])));
  const errs = group.addTmpl(p, wxml);
  if (errs && errs.length) process.stderr.write(`template warnings in ${p}: ${JSON.stringify(errs).slice(0, 300)}\n`);
}
// WXS built-ins that WeChat provides to every WXS module
global.getRegExp = (pattern, flags) => new RegExp(pattern, flags);
global.getDate = (...args) => new Date(...args);
global.__wxsConstructor = (v) => {
  if (v === null || v === undefined) return v === null ? "Null" : "Undefined";
  if (Array.isArray(v)) return "Array";
  if (v instanceof Date) return "Date";
  if (v instanceof RegExp) return "RegExp";
  const t = typeof v;
  return t === "object" ? "Object" : t.charAt(0).toUpperCase() + t.slice(1);
};
const groupList = new Function(`return ${group.getTmplGenObjectGroups()}`)();

// ---- the logic: CommonJS modules run inside the adapter's component environment ----
const env = new adapter.MiniProgramEnv();
const codeSpace = env.createCodeSpace("", true);
const system = spec.system;
global.wx = {
  getSystemInfoSync: () => JSON.parse(JSON.stringify(system)),
  getWindowInfo: () => JSON.parse(JSON.stringify(system)),
  getDeviceInfo: () => JSON.parse(JSON.stringify(system)),
  getAppBaseInfo: () => JSON.parse(JSON.stringify(system)),
  canIUse: (name) => !!(spec.canIUse || {})[name],
  nextTick: (fn) => Promise.resolve().then(fn),
  createSelectorQuery: () => ({ in: (comp) => comp.createSelectorQuery() }),
  // drawing and animation produce no nodes: inert stand-ins, chainable like WeChat's objects
  createCanvasContext: () => inert(),
  createAnimation: () => inert(),
  getMenuButtonBoundingClientRect: () => ({ top: 0, left: 0, right: 0, bottom: 0, width: 0, height: 0 }),
};
global.getCurrentPages = () => [];
function inert() {
  const target = function () {};
  const proxy = new Proxy(target, {
    get: (t, k) => (k === "export" ? () => ({ actions: [] }) : k === "then" ? undefined : proxy),
    apply: () => proxy,
  });
  return proxy;
}
process.on("uncaughtException", (e) => process.stderr.write(`uncaught: ${e && e.message}\n`));
process.on("unhandledRejection", (e) => process.stderr.write(`unhandled: ${e && e.message}\n`));
const builtin = {};
codeSpace.globalComponentEnv(global, "__builtin__", () => {
  builtin["wx://form-field"] = global.Behavior({ properties: { name: { type: String, value: "" }, value: { type: null, value: null } } });
  builtin["wx://form-field-group"] = global.Behavior({});
  builtin["wx://form-field-button"] = global.Behavior({});
  builtin["wx://component-export"] = global.Behavior({});
});
const modules = new Map();
function requireFrom(fromFile, request) {
  let target = request.startsWith(".") ? norm(path.posix.join(path.posix.dirname(fromFile), request)) : norm(request);
  for (const c of [target, target + ".js", target + "/index.js"]) {
    if (exists(c) && fs.statSync(path.join(root, c)).isFile()) return load(c);
  }
  throw new Error(`cannot find module ${request} from ${fromFile}`);
}
function load(file) {
  if (modules.has(file)) return modules.get(file).exports;
  const module = { exports: {} };
  modules.set(file, module);
  const fn = new Function("require", "module", "exports", read(file));
  fn.call(module.exports, (r) => requireFrom(file, r), module, module.exports);
  return module.exports;
}
for (const [p, json] of components) {
  codeSpace.addComponentStaticConfig(p, json);
  codeSpace.addCompiledTemplate(p, { groupList, content: groupList[p] });
}
for (const p of components.keys()) {
  codeSpace.globalComponentEnv(global, p, () => {
    const realComponent = global.Component;
    global.Component = (options) => {
      // glass-easel's component caller has a read-only `dataset` accessor, so a property named
      // `dataset` (vant's button passes it on as data-detail) crashes the reference; WeChat accepts it.
      // The property only feeds a data- attribute, which is not compared: drop it here.
      if (options && options.properties && "dataset" in options.properties) delete options.properties.dataset;
      if (options && options.behaviors) options.behaviors = options.behaviors.map((b) => (typeof b === "string" ? builtin[b] : b));
      return realComponent(options);
    };
    try { load(p + ".js"); } finally { global.Component = realComponent; }
  });
}

// ---- render, settle, serialise ----
function serialise(node) {
  if (node.nodeType === 3) return node.data.trim() ? { x: node.data } : null;
  if (node.nodeType !== 1) return null;
  const a = {};
  for (const attr of Array.from(node.attributes)) if (attr.name !== "class") a[attr.name] = attr.value;
  // the composed tree: a host shows its shadow tree, a <slot> the nodes assigned to it
  let kids = node.shadowRoot ? node.shadowRoot.childNodes : node.childNodes;
  if (node.tagName.toLowerCase() === "slot" && node.assignedNodes) kids = node.assignedNodes();
  const c = Array.from(kids).map(serialise).filter(Boolean);
  return { t: node.tagName.toLowerCase(), cls: node.getAttribute("class") || "", a, c };
}
const backend = new glassEasel.CurrentWindowBackendContext();
const ab = env.associateBackend(backend);
const roots = {};
const out = {};
for (const page of spec.pages) {
  try {
    const holder = document.createElement("div");
    document.body.appendChild(holder);
    const placeholder = document.createElement("span");
    holder.appendChild(placeholder);
    const r = ab.createRoot("body", codeSpace, page);
    r.attach(holder, placeholder);
    // WeChat fires `ready` once a page's first render is on screen; glass-easel leaves that to the
    // embedding framework, so the harness does it, in tree order.
    (function ready(node) {
      if (glassEasel.Component.isComponent(node)) {
        node.triggerLifetime("ready", []);
        node.getShadowRoot().childNodes.forEach(ready);
      }
      (node.childNodes || []).forEach(ready);
    })(r.getComponent());
    roots[page] = { r, holder };
  } catch (e) {
    out[page] = { error: String(e && e.stack || e).slice(0, 500) };
  }
}
setTimeout(() => {
  for (const [page, { holder }] of Object.entries(roots)) {
    const body = holder.firstChild;
    out[page] = body ? Array.from(body.childNodes).map(serialise).filter(Boolean) : [];
  }
  // a pipe may take only part of a large write before exit: the result goes to a file
  fs.writeFileSync(spec.out, JSON.stringify(out));
  process.exit(0);
}, spec.settleMs || 1000);
