// The peer of bench/bench_runtime.py: the same pages in WeChat's own simulator (miniprogram-simulate:
// j-component with WeChat's exparser and its template compiler) under Node with jsdom.
//
//   node bench/bench_runtime_peer.js spec.json
//
// spec: {modules: node_modules with miniprogram-simulate and jsdom, vant: the @vant/weapp miniprogram
// build (or null), rows: [100, 1000, ...], cells: 1000, repeat: n, repeats: {rows: n}}. Prints one JSON object:
// {list: {rows: {fill_ms: [...], update_ms: [...]}}, cells: {fill_ms: [...]}}. Each figure is the time
// of the call that changes the data, the simulator applying the change to the DOM synchronously.
"use strict";

const fs = require("fs");
const path = require("path");

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
global.getApp = () => ({ globalData: {} });
global.getCurrentPages = () => [];
console.log = console.info = console.warn = console.debug = () => {};
const out = process.stdout.write.bind(process.stdout);
const tRequire = process.hrtime.bigint();
const simulate = need("miniprogram-simulate");
const requireMs = Number(process.hrtime.bigint() - tRequire) / 1e6;

const LIST = '<view class="list"><view wx:for="{{list}}" wx:key="id" class="row" data-id="{{item.id}}">' +
             '<text class="name">{{item.name}}</text><text class="n">{{index}}</text></view></view>';
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function rows(n) {
  const l = [];
  for (let i = 0; i < n; i++) l.push({ id: i, name: "row " + i });
  return l;
}

function mounted(def) {
  const comp = simulate.render(simulate.load(def));
  const parent = document.createElement("parent-wrapper");
  document.body.appendChild(parent);
  comp.attach(parent);
  return comp;
}

function list(n, repeat) {
  const comp = mounted({ template: LIST, data: { list: [] } });
  const fill = [], update = [];
  for (let r = -1; r < repeat; r++) {  // round -1 warms up and is not counted
    comp.setData({ list: [] });
    let t0 = process.hrtime.bigint();
    comp.setData({ list: rows(n) });
    if (r >= 0) fill.push(ms(t0));
    const mid = Math.floor(n / 2);
    t0 = process.hrtime.bigint();
    comp.setData({ ["list[" + mid + "].name"]: "changed " + r });
    if (r >= 0) update.push(ms(t0));
    if (comp.dom.querySelectorAll(".row")[mid].textContent.indexOf("changed " + r) < 0) throw new Error("update not applied");
  }
  comp.detach();
  return { fill_ms: fill, update_ms: update };
}

function cells(n, repeat) {
  const cell = simulate.load(path.join(spec.vant, "cell/index"), "van-cell", { rootPath: spec.vant });
  const group = simulate.load(path.join(spec.vant, "cell-group/index"), "van-cell-group", { rootPath: spec.vant });
  const fill = [];
  for (let r = -1; r < repeat; r++) {  // round -1 warms up and is not counted
    const comp = mounted({
      template: "<van-cell-group><van-cell wx:for='{{rows}}' wx:key='id' title='{{item.title}}' value='{{item.amount}}'" +
                " label='CNY' is-link/></van-cell-group>",
      usingComponents: { "van-cell": cell, "van-cell-group": group },
      data: { rows: [] },
    });
    const data = [];
    for (let i = 0; i < n; i++) data.push({ id: i, title: "Payee " + i, amount: (i * 1.5).toFixed(2) });
    const t0 = process.hrtime.bigint();
    comp.setData({ rows: data });
    if (r >= 0) fill.push(ms(t0));
    const got = comp.dom.querySelectorAll("van-cell").length; if (got !== n) throw new Error("cells not rendered: " + got + " " + comp.dom.innerHTML.slice(0, 300));
    comp.detach();
    document.body.innerHTML = "";
  }
  return { fill_ms: fill };
}

// bench/bench_launch.py: a page of 50 components, from loading them (reading and compiling each
// component and what it uses) to the attached first render; the simulator's own require apart.
function launch(cfg) {
  const load = [], render = [], total = [];
  for (let r = -1; r < cfg.runs; r++) {  // round -1 warms up and is not counted
    const t0 = process.hrtime.bigint();
    const using = {};
    for (const [tag, comp] of Object.entries(cfg.using)) {
      using[tag] = simulate.load(path.join(spec.vant, comp, "index"), tag, { rootPath: spec.vant });
    }
    const t1 = process.hrtime.bigint();
    const methods = {};
    for (const h of cfg.handlers) methods[h] = function (e) { this.last = e && e.type; };
    const comp = simulate.render(simulate.load({ template: cfg.template, usingComponents: using,
                                                 data: JSON.parse(JSON.stringify(cfg.data)), methods }));
    const parent = document.createElement("parent-wrapper");
    document.body.appendChild(parent);
    comp.attach(parent);
    const t2 = process.hrtime.bigint();
    if (r >= 0) { load.push(Number(t1 - t0) / 1e6); render.push(Number(t2 - t1) / 1e6); total.push(Number(t2 - t0) / 1e6); }
    const got = comp.dom.querySelectorAll("van-cell").length;
    if (got < 4) throw new Error("page not rendered: " + comp.dom.innerHTML.slice(0, 300));
    comp.detach();
    document.body.innerHTML = "";
  }
  return { load_ms: load, render_ms: render, total_ms: total, require_ms: requireMs };
}

const result = { list: {}, cells: null, launch: null };
if (spec.launch) result.launch = launch(spec.launch);
for (const n of spec.rows) result.list[n] = list(n, (spec.repeats && spec.repeats[n]) || spec.repeat);
if (spec.vant && spec.cells) result.cells = cells(spec.cells, Math.max(3, Math.floor(spec.repeat / 2)));
out(JSON.stringify(result) + "\n");
process.exit(0);
