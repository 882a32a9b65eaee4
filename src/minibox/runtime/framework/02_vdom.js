// minibox framework, part 2: rendered nodes, keyed diff, patch operations (docs/internals.md §4).
"use strict";

// A rendered node (RNode): { id, t | x, a, cls, st, ev, ds, mk, k, c, parent, owner, comp }
//   owner: the component instance whose template produced the node (handlers resolve there)
//   comp:  the component instance this node hosts, for custom component tags
function mbOp(op) { MB.ops.push(op); }

// MB.nodes: node id -> rendered node. A Map of numbers is slow in QuickJS (a set costs microseconds,
// ten times an integer-keyed object's), and every rendered node goes through it: an object keyed
// by id, behind the Map methods the framework uses (ids are numbers; anything else finds nothing).
function MbNodeMap() { this.o = Object.create(null); this.size = 0; }
MbNodeMap.prototype.get = function (id) { return typeof id === "number" ? this.o[id] : undefined; };
MbNodeMap.prototype.has = function (id) { return typeof id === "number" && this.o[id] !== undefined; };
MbNodeMap.prototype.set = function (id, r) {
  if (this.o[id] === undefined) this.size++;
  this.o[id] = r;
  return this;
};
MbNodeMap.prototype["delete"] = function (id) {
  if (typeof id !== "number" || this.o[id] === undefined) return false;
  delete this.o[id];
  this.size--;
  return true;
};
MB.nodes = new MbNodeMap();
// A debug figure for tests: the positions the diff looked at (one per child compared or patched).
MB.diffStats = { visits: 0 };

function mbNewId() { return MB.nextNodeId++; }

function mbEventTypes(ev) {
  if (!ev || !ev.length) return [];
  var seen = {};
  var out = [];
  ev.forEach(function (e) { if (!seen[e.type]) { seen[e.type] = 1; out.push(e.type); } });
  return out;
}

// A component's host element carries `<scope>--_host`, what its sheet's `:host` became.
function mbHostClass(compPath, cls) {
  var scope = mbScopeOf(compPath);
  return scope ? (cls ? cls + " " : "") + scope + "--_host" : cls;
}

// What a node without events, dataset or children holds: shared (every row of a list has leaves),
// never written to (a list or dataset that changes is another object).
var MB_NO_EVENTS = Object.freeze([]);
var MB_NO_DATASET = Object.freeze({});
var MB_NO_KIDS = Object.freeze([]);

// Nodes created in a turn travel as "tree" ops (docs/internals.md §4): ["tree", parentId|null,
// firstId, spec, ...], a spec being "text" for a text node, [tag, class, extra, ...child specs] for
// an element (extra: 0, or {a: attrs, s: style, e: event types}). A spec's id is the one after the
// previous node's in the op (document order), firstId for the first; a node whose id is not (a
// component mounted before it took ids) starts its spec with its id: [id, "text"], [id, tag, ...].
// Children of a node created in the same op nest in its spec, to this depth; deeper ones get ops
// of their own.
var MB_TREE_DEPTH = 32;

function mbTreeOp(domParentId) {
  var op = ["tree", domParentId, MB.nextNodeId];
  op.n = MB.nextNodeId;  // the id a spec pushed next has without saying it
  mbOp(op);  // before anything the creation sends (a component mounted in it names its host)
  return op;
}

// The attributes a spec carries: those of plain values (objects and arrays get "attr" ops, so that
// the nesting of a value does not add to that of the spec; what JSON makes null is no attribute, as
// an "attr" op with null says); 0 for none.
function mbSpecAttrs(id, a, hostOnly) {
  var out = 0, names = Object.keys(a);
  for (var i = 0; i < names.length; i++) {
    var name = names[i], value = a[name];
    if (hostOnly && !MB_HOST_ATTRS[name]) continue;
    var type = typeof value;
    if (value === null || type === "undefined" || type === "function" || type === "symbol" ||
        (type === "number" && value - value !== 0)) continue;  // JSON null, or nothing: no attribute
    if (type === "object") { mbOp(["attr", id, name, value]); continue; }
    if (out === 0) out = {};
    out[name] = value;
  }
  return out;
}

// Create the node for vnode `v`. Its spec goes into `into` (the "tree" op `op`, or the spec of a
// node created in it; `lvl`: how deep), or, with no `into` (a component mount records its ops,
// 03_component.js, and its filter reads one op per change), one op per change.
function mbCreateNode(owner, parent, v, into, lvl, op) {
  var id = mbNewId();
  var r;
  if (v.x !== undefined) {
    r = { id: id, x: String(v.x), parent: parent, owner: owner, v: v };
    MB.nodes.set(id, r);
    if (into) {
      into.push(id === op.n ? r.x : [id, r.x]);
      op.n = id + 1;
    } else {
      mbOp(["text", id, r.x]);
    }
    return r;
  }
  r = {
    id: id, t: v.t, a: v.a || {}, cls: v.cls || "", st: v.st || "", ev: v.ev || MB_NO_EVENTS,
    ds: v.ds || MB_NO_DATASET, mk: v.mk || null, md: v.md || null, k: v.k, c: MB_NO_KIDS, parent: parent,
    owner: owner, comp: null,
    v: v,  // the vnode the node shows: patching it from the same vnode again changes nothing
  };
  MB.nodes.set(id, r);
  if (v.t === "slot" && owner) owner.__slots[v.a && v.a.name ? String(v.a.name) : ""] = r;
  var compPath = owner ? mbComponentPathFor(owner, v.t) : null;
  if (compPath) {
    r.compPath = compPath;
    r.cls = mbHostClass(compPath, r.cls);
  }
  var spec = null;
  if (into) {
    spec = mbPushElementSpec(r, v.t, !!compPath, into, op);
  } else {
    mbOp(["create", id, v.t]);
    if (compPath) {
      mbHostAttrs(r, null, r.a);
    } else {
      var names = Object.keys(r.a);  // a loop, not forEach: every created node comes through here
      for (var i = 0; i < names.length; i++) mbOp(["attr", id, names[i], r.a[names[i]]]);
    }
    if (r.cls) mbOp(["class", id, r.cls]);
    if (r.st) mbOp(["style", id, r.st]);
    if (r.ev.length) mbOp(["events", id, mbEventTypes(r.ev)]);
  }
  if (compPath) {
    r.light = mbLightOf(v);
    mbMountComponent(r, owner, compPath);
  } else if (v.c && v.c.length) {
    if (spec !== null && lvl < MB_TREE_DEPTH) {
      var kids = v.c, made = new Array(kids.length);
      for (var k = 0; k < kids.length; k++) made[k] = mbCreateNode(owner, r, kids[k], spec, lvl + 1, op);
      made.$vs = kids;  // as mbReconcile leaves it
      if (kids.$h) made.$vg = kids.$h.gen;
      r.c = made;
    } else {
      r.c = mbReconcile(owner, r, r.id, [], v.c);
    }
  }
  return r;
}

// The spec of node `r` as it is (and of what it holds), pushed into `into` (the "tree" op `op`, or
// a spec in it, `lvl` deep).
function mbSpecOfNode(r, into, lvl, op) {
  if (r.x !== undefined) {
    into.push(r.id === op.n ? r.x : [r.id, r.x]);
    op.n = r.id + 1;
    return;
  }
  mbSpecOfContent(r, mbPushElementSpec(r, r.t, !!r.compPath, into, op), lvl, op);
}

// The spec of element `r` (tag `tag`) without its children, pushed into `into`; returns it.
function mbPushElementSpec(r, tag, isComp, into, op) {
  var spec = r.id === op.n ? [tag, r.cls, 0] : [r.id, tag, r.cls, 0];
  op.n = r.id + 1;
  into.push(spec);
  var attrs = mbSpecAttrs(r.id, r.a, isComp);
  if (attrs !== 0 || r.st || r.ev.length) {
    var extra = {};
    if (attrs !== 0) extra.a = attrs;
    if (r.st) extra.s = r.st;
    if (r.ev.length) extra.e = mbEventTypes(r.ev);
    spec[spec.length - 1] = extra;
  }
  return spec;
}

// What `r` (`lvl` deep) holds, into `spec`: its children, or a component's shadow tree. Children
// nested too deep get an op of their own; a component's light nodes get one per slot (or one
// detached, for a slot its template does not have), after this one: the nodes of an op's specs
// come in the order they were pushed, which implicit ids rely on.
function mbSpecOfContent(r, spec, lvl, op) {
  var kids = r.comp ? r.comp.__roots : r.c, k;
  if (kids && kids.length) {
    if (lvl < MB_TREE_DEPTH) {
      for (k = 0; k < kids.length; k++) mbSpecOfNode(kids[k], spec, lvl + 1, op);
    } else {
      var deeper = mbTreeOp(r.id);
      for (k = 0; k < kids.length; k++) mbSpecOfNode(kids[k], deeper, 1, deeper);
    }
  }
  if (!r.comp) return;
  var by = r.lightBy || {};
  Object.keys(by).forEach(function (name) {
    if (!by[name].length) return;
    var slotId = r.lightSlot ? r.lightSlot[name] : null;
    var light = mbTreeOp(slotId === undefined ? null : slotId);
    by[name].forEach(function (n) { mbSpecOfNode(n, light, 1, light); });
  });
}

// The "tree" ops that build, in the view, what component host `host` holds, from its nodes as they
// are: what a mount that recorded its operations sends at the end (03_component.js mbMaterialize).
function mbSubtreeOps(host) {
  var op = mbTreeOp(host.id);
  mbSpecOfContent(host, op, 0, op);
}

// Attributes that a component host element shows in the view: the rest are properties.
var MB_HOST_ATTRS = Object.assign(Object.create(null), { id: 1, hidden: 1, slot: 1 });
function mbHostAttrs(r, oldA, newA) {
  var names = Object.keys(newA), i, name;
  for (i = 0; i < names.length; i++) {
    name = names[i];
    if (MB_HOST_ATTRS[name] === 1 && (!oldA || !mbEqual(oldA[name], newA[name]))) mbOp(["attr", r.id, name, newA[name]]);
  }
  if (!oldA) return;
  names = Object.keys(oldA);
  for (i = 0; i < names.length; i++) {
    name = names[i];
    if (MB_HOST_ATTRS[name] === 1 && !(name in newA)) mbOp(["attr", r.id, name, null]);
  }
}

function mbSameEventTypes(a, b) {
  if (a.length !== b.length) return false;
  for (var i = 0; i < a.length; i++) if (a[i].type !== b[i].type) return false;
  return true;
}

function mbPatchNode(owner, r, v) {
  if (r.v === v) return;  // a memoised row (render_runtime.js `$ML`): the same vnode, nothing to do
  r.v = v;
  if (r.x !== undefined) {
    var text = String(v.x);
    if (text !== r.x) { r.x = text; mbOp(["text", r.id, text]); }
    return;
  }
  var a = v.a || {};
  var oldA = r.a;
  var name;
  if (r.comp) {
    mbHostAttrs(r, oldA, a);
  } else {
    for (name in a) if (!(name in oldA) || !mbEqual(oldA[name], a[name])) mbOp(["attr", r.id, name, a[name]]);
    for (name in oldA) if (!(name in a)) mbOp(["attr", r.id, name, null]);
  }
  r.a = a;
  var cls = r.compPath ? mbHostClass(r.compPath, v.cls || "") : v.cls || "";
  if (cls !== r.cls) { r.cls = cls; mbOp(["class", r.id, cls]); }
  var st = v.st || "";
  if (st !== r.st) { r.st = st; mbOp(["style", r.id, st]); }
  var ev = v.ev || MB_NO_EVENTS;
  if (!mbSameEventTypes(r.ev, ev)) {
    var before = mbEventTypes(r.ev).join(","), types = mbEventTypes(ev);
    if (before !== types.join(",")) mbOp(["events", r.id, types]);
  }
  r.ev = ev;
  r.ds = v.ds || MB_NO_DATASET;
  r.mk = v.mk || null;
  r.md = v.md || null;
  if (r.comp) {
    r.light = mbLightOf(v);
    mbUpdateComponentProps(r.comp, a, oldA);
    mbRenderLight(r);
  } else {
    var kids = v.c || [];
    if (kids.length || r.c.length) r.c = mbReconcile(owner, r, r.id, r.c, kids);
  }
}

// The light children of a component tag: a copy of memoised rows kept from render to render
// (render_runtime.js `$ML` `sole`), which change in place while mbRenderLight compares by identity.
function mbLightOf(v) {
  var c = v.c;
  if (!c) return [];
  return c.$h && c.$h.sole ? c.slice() : c;
}

function mbDestroyNode(r, top) {
  if (top) mbOp(["remove", r.id]);
  if (r.t === "slot" && r.owner) {
    var slotName = r.a && r.a.name ? String(r.a.name) : "";
    if (r.owner.__slots[slotName] === r) delete r.owner.__slots[slotName];
  }
  // children detach before their parent (light children, then the shadow tree, then the host)
  if (r.lightNodes) r.lightNodes.forEach(function (n) { mbDestroyNode(n, false); });
  if (r.c) r.c.forEach(function (n) { mbDestroyNode(n, false); });
  if (r.comp) mbUnmountComponent(r.comp);
  MB.nodes.delete(r.id);
  // no cycle is left behind (child -> parent, host <-> component): the engine frees the removed
  // tree at once by reference counting, instead of its cycle collector scanning it (and everything
  // alive) during the next render, which costs more the larger the page
  r.parent = null;
  r.comp = null;
}

function mbNodeKind(v) { return v.x !== undefined ? "#text" : v.t; }

// Longest increasing subsequence of `seq` (values >= 0); returns a Set of positions in seq.
function mbLis(seq) {
  var tails = [], tailIdx = [], prev = new Array(seq.length);
  for (var i = 0; i < seq.length; i++) {
    var x = seq[i];
    if (x < 0) continue;
    var lo = 0, hi = tails.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (tails[mid] < x) lo = mid + 1; else hi = mid; }
    tails[lo] = x; tailIdx[lo] = i;
    prev[i] = lo > 0 ? tailIdx[lo - 1] : -1;
  }
  var keep = new Set();
  var j = tailIdx.length ? tailIdx[tailIdx.length - 1] : -1;
  while (j !== undefined && j >= 0) { keep.add(j); j = prev[j]; }
  return keep;
}

// Reconcile `oldList` (RNodes under DOM parent `domParentId`) with new vnodes; returns the new list,
// which remembers the vnodes it shows (`$vs`: each node's `v` is the vnode at its position).
function mbReconcile(owner, parent, domParentId, oldList, vnodes) {
  var out = mbReconcileList(owner, parent, domParentId, oldList, vnodes);
  if (vnodes.length || out.$vs !== undefined) {
    out.$vs = vnodes;
    if (vnodes.$h) out.$vg = vnodes.$h.gen;  // which use of a memoised loop's rows it shows
  }
  return out;
}

// The positions of `list` (vnodes) other than the rows of a memoised wx:for left as they were
// (render_runtime.js `$ML` hint), when the vnodes the old nodes `old` show (`old.$vs`) hold the rows
// of the previous use of the same loop; null when unknown. The rows array of a loop that is all its
// element holds is the same array from one render to the next (changed in place): then `old.$vg`
// says which use of it the nodes show.
function mbMemoPositions(list, old) {
  var h = list.$h, prev = old.$vs;
  if (!h || !h.redo || prev === undefined || list.length !== prev.length) return null;
  if (list === prev) {
    if (!h.sole || old.$vg !== h.gen - 1 || h.at !== 0 || h.n !== list.length) return null;
  } else {
    var ph = prev.$h;
    if (!ph || h.sole || ph.sole || h.E !== ph.E || h.gen !== ph.gen + 1 || h.at !== ph.at || h.n !== ph.n) return null;
  }
  var out = [], i;
  for (i = 0; i < h.at; i++) out.push(i);
  for (i = 0; i < h.redo.length; i++) out.push(h.at + h.redo[i]);
  for (i = h.at + h.n; i < list.length; i++) out.push(i);
  return out;
}

function mbReconcileList(owner, parent, domParentId, oldList, vnodes) {
  if (!oldList.length && !vnodes.length) return oldList;
  if (!oldList.length) {
    // all new (a first render, a filled list): one op creates them and appends them in order
    var made = new Array(vnodes.length), m;
    if (MB.ops.mbRecording !== true) {
      var op = mbTreeOp(domParentId);
      for (m = 0; m < vnodes.length; m++) made[m] = mbCreateNode(owner, parent, vnodes[m], op, 1, op);
      return made;
    }
    for (m = 0; m < vnodes.length; m++) made[m] = mbCreateNode(owner, parent, vnodes[m], null, 0, null);
    if (domParentId !== null) for (m = 0; m < made.length; m++) mbOp(["insert", domParentId, made[m].id, null]);
    return made;
  }
  if (oldList.length === vnodes.length && oldList.length > 8) {
    // memoised rows: only the positions whose vnode is another one need a look
    var other = mbMemoPositions(vnodes, oldList), o;
    if (other === null) {
      other = [];
      for (o = 0; o < vnodes.length; o++) if (oldList[o].v !== vnodes[o]) other.push(o);
      MB.diffStats.visits += vnodes.length;
    } else {
      MB.diffStats.visits += other.length;
    }
    if (other.length * 4 < vnodes.length) {
      var olds = [], news = [];
      for (o = 0; o < other.length; o++) {
        if (oldList[other[o]].v !== vnodes[other[o]]) { olds.push(oldList[other[o]]); news.push(vnodes[other[o]]); }
      }
      if (mbSameShape(owner, olds, news)) {
        for (o = 0; o < olds.length; o++) mbPatchNode(owner, olds[o], news[o]);
        return oldList;
      }
    }
  }
  MB.diffStats.visits += vnodes.length;
  if (oldList.length === vnodes.length && mbSameShape(owner, oldList, vnodes)) {
    for (var f = 0; f < vnodes.length; f++) mbPatchNode(owner, oldList[f], vnodes[f]);
    return oldList;
  }
  var keyed = null, unkeyed = Object.create(null);
  var oldIndex = new Map();
  oldList.forEach(function (r, i) {
    oldIndex.set(r, i);
    var kind = r.x !== undefined ? "#text" : r.t;
    if (r.k !== undefined && r.k !== null) {
      keyed = keyed || new Map();
      var key = kind + "\u0000" + String(r.k);
      if (!keyed.has(key)) { keyed.set(key, r); return; }
    }
    (unkeyed[kind] || (unkeyed[kind] = [])).push(r);
  });
  var used = new Set();
  var result = new Array(vnodes.length);
  var created = null;  // the "tree" op of the nodes this pass creates (inserted below, one by one)
  var reusedOld = new Array(vnodes.length);
  for (var i = 0; i < vnodes.length; i++) {
    var v = vnodes[i];
    var kind = mbNodeKind(v);
    var match = null;
    if (v.k !== undefined && v.k !== null) {
      var key = kind + "\u0000" + String(v.k);
      if (keyed && keyed.has(key)) { match = keyed.get(key); keyed.delete(key); }
    } else {
      var q = unkeyed[kind];
      while (q && q.length) {
        var cand = q.shift();
        if (!used.has(cand)) { match = cand; break; }
      }
    }
    if (match && mbSameComponent(owner, match, v)) {
      used.add(match);
      mbPatchNode(owner, match, v);
      result[i] = match;
      reusedOld[i] = oldIndex.get(match);
    } else {
      if (created === null && MB.ops.mbRecording !== true) created = mbTreeOp(null);
      result[i] = mbCreateNode(owner, parent, v, created, 1, created);
      reusedOld[i] = -1;
    }
  }
  oldList.forEach(function (r) { if (!used.has(r)) mbDestroyNode(r, true); });
  var keep = mbLis(reusedOld);
  var before = null;
  for (var j = result.length - 1; j >= 0; j--) {
    var node = result[j];
    node.parent = parent;
    if (domParentId !== null && (reusedOld[j] < 0 || !keep.has(j))) {
      mbOp(["insert", domParentId, node.id, before]);
      if (reusedOld[j] >= 0 && node.comp) mbComponentMoved(node.comp);
    }
    before = node.id;
  }
  return result;
}

// Fast path: the same kinds and keys at the same positions (the common case) need no matching.
function mbSameShape(owner, oldList, vnodes) {
  for (var i = 0; i < vnodes.length; i++) {
    var r = oldList[i], v = vnodes[i];
    if (v.x !== undefined) { if (r.x === undefined) return false; continue; }
    if (r.t !== v.t) return false;
    var vk = v.k === undefined ? null : v.k, rk = r.k === undefined ? null : r.k;
    if (vk !== rk && String(vk) !== String(rk)) return false;
    if (r.compPath !== undefined || (owner && owner.__using[v.t])) {
      if (!mbSameComponent(owner, r, v)) return false;
    }
  }
  return true;
}

// A node can be patched in place only if it keeps hosting the same component (or none).
function mbSameComponent(owner, r, v) {
  if (r.x !== undefined || v.x !== undefined) return true;
  var path = mbComponentPathFor(owner, v.t);
  return (r.compPath || null) === (path || null);
}
