// The peer of bench/compat.py: WeChat's own component simulator (miniprogram-simulate: j-component with
// WeChat's wcc template compiler) mounts each component of a library alone, with default props, in
// Node with jsdom, as a library's jest suite does.
//
//   node bench/compat_simulate.js spec.json
//
// spec: {modules: node_modules with miniprogram-simulate and jsdom, root: the library's miniprogram
// build, components: ["button/index", ...], out: where to write {component: {ok, error, stack}}}.
// A component renders when load, render and attach (which fires `ready`) do not throw and no uncaught
// error, unhandled rejection or error caught by exparser (a lifetime, observer or method that threw)
// is raised while it settles (SETTLE_MS of real time).
"use strict";

const fs = require("fs");
const path = require("path");

const SETTLE_MS = 50;
const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const need = (name) => require(path.join(spec.modules, name));

const { JSDOM } = need("jsdom");
const dom = new JSDOM("<!doctype html><html><head></head><body></body></html>", { pretendToBeVisual: true });
global.window = dom.window;
global.document = dom.window.document;
for (const name of ["Event", "CustomEvent", "Node", "Element", "HTMLElement", "MutationObserver", "navigator",
                    "getComputedStyle", "requestAnimationFrame", "cancelAnimationFrame", "DocumentFragment"]) {
  if (global[name] === undefined) global[name] = dom.window[name];
}

// what a page host gives every component in WeChat and miniprogram-simulate leaves to the test's
// setup (as a library's jest setup does): an app object and an empty page stack
global.getApp = () => ({ globalData: {} });
global.getCurrentPages = () => [];

let pending = [];
process.on("uncaughtException", (e) => pending.push(e));
process.on("unhandledRejection", (e) => pending.push(e));
// a library's console noise is not a failure, and would drown the report
console.log = console.info = console.warn = console.debug = () => {};
const consoleErrors = [];
console.error = (...args) => consoleErrors.push(args.map(String).join(" "));

// ES modules in a library's build: WeChat's devtools compile them to CommonJS ("ES6 to ES5"), as a
// library's own jest setup does with babel; so does this harness (and nothing else is transformed).
const Module = require("module");
const babel = need("@babel/core");
const esmPlugin = require.resolve(path.join(spec.modules, "@babel/plugin-transform-modules-commonjs"));
const ESM = /(^|[;}\s])(import\s*[\w{*'"]|export\s+|export\s*[{*])/m;
const plainJs = Module._extensions[".js"];
Module._extensions[".js"] = function (module, filename) {
  if (!filename.startsWith(spec.root)) return plainJs(module, filename);
  const source = fs.readFileSync(filename, "utf8");
  if (!ESM.test(source)) return plainJs(module, filename);
  const out = babel.transformSync(source, { filename, babelrc: false, configFile: false, sourceType: "module",
                                            plugins: [esmPlugin] });
  return module._compile(out.code, filename);
};

const simulate = need("miniprogram-simulate");
// exparser (WeChat's component framework inside j-component) catches what a lifetime, observer or
// method throws and only logs it; WeChat reports it as an uncaught script error: so does this harness
need("miniprogram-exparser").addGlobalErrorListener((err) => { pending.push(err); return false; });

function describe(e) {
  if (e instanceof Error) return { error: `${e.name}: ${e.message}`, stack: String(e.stack || "") };
  return { error: String(e), stack: "" };
}

async function mount(comp) {
  pending = [];
  const file = path.join(spec.root, comp);
  let instance = null;
  try {
    const id = simulate.load(file, "c-under-test", { rootPath: spec.root });
    instance = simulate.render(id);
    const parent = document.createElement("parent-wrapper");
    document.body.appendChild(parent);
    instance.attach(parent);
    await simulate.sleep(SETTLE_MS);
    if (pending.length) return { ok: false, ...describe(pending[0]) };
    return { ok: true };
  } catch (e) {
    return { ok: false, ...describe(e) };
  } finally {
    try { if (instance) instance.detach(); } catch (e) { /* detaching is not measured */ }
    document.body.innerHTML = "";
  }
}

(async () => {
  const out = {};
  for (const comp of spec.components) {
    out[comp] = await mount(comp);
  }
  fs.writeFileSync(spec.out, JSON.stringify(out));
  process.exit(0);
})();
