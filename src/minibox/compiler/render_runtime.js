/* minibox render runtime: the helpers every compiled WXML render function calls. Pure functions. */
var $HOP = Object.prototype.hasOwnProperty;
/* what elements without attributes, and leaves, share: never written to */
var $EA = Object.freeze({}), $EC = Object.freeze([]);
var $U = Object.create(null);
["constructor", "__proto__", "prototype", "__defineGetter__", "__defineSetter__", "__lookupGetter__",
 "__lookupSetter__"].forEach(function (k) { $U[k] = 1; });
/* member access: undefined on null/undefined, and never an inherited constructor/prototype */
function $g(o, k) {
  if (o == null) return undefined;
  if (typeof k === "string" && $U[k] === 1 && !$HOP.call(o, k)) return undefined;
  return o[k];
}
/* method call: undefined when not a function or when it throws (WeChat evaluates errors to undefined) */
function $m(o, k, a) {
  var f = $g(o, k);
  if (typeof f !== "function") return undefined;
  try { return f.apply(o, a); } catch (e) { return undefined; }
}
function $f(f, a) {
  if (typeof f !== "function") return undefined;
  try { return f.apply(undefined, a); } catch (e) { return undefined; }
}
function $io(a, b) {
  if (typeof b !== "function") return false;
  try { return a instanceof b; } catch (e) { return false; }
}
function $a(x) { return Array.isArray(x) ? x : []; }
/* text conversion: undefined and null render as empty text */
function $s(v) {
  if (typeof v === "string") return v;
  if (v == null) return "";
  try { return String(v); } catch (e) { return ""; }
}
/* wx:for over a non-array: a string iterates its characters, a number 0..n-1, an object its values
   (index = key); anything else renders nothing */
function $it(x) {
  if (typeof x === "string") return [Array.from(x), null];
  if (typeof x === "number") {
    var n = Math.min(Math.floor(x), MAX_FOR_NUMBER), r = [];
    for (var i = 0; i < n; i++) r.push(i);
    return [r, null];
  }
  if (x !== null && typeof x === "object") {
    var ks = Object.keys(x), vs = [];
    for (var j = 0; j < ks.length; j++) vs.push(x[ks[j]]);
    return [vs, ks];
  }
  return [[], null];
}
/* template call: unknown names and recursion beyond MAX_TEMPLATE_DEPTH render nothing */
function $T(T, name, data, C, d) {
  if (d > MAX_TEMPLATE_DEPTH) return;
  if (typeof name !== "string" || !$HOP.call(T, name)) return;
  T[name](data !== null && typeof data === "object" ? data : {}, C, d + 1);
}
function $key(C, s, k) {
  for (var i = s; i < C.length; i++) if (C[i].t !== undefined) C[i].k = k;
}
var FD = Object.create(null), FC = Object.create(null), WC = Object.create(null);
function $F(p) {
  var f = FC[p];
  if (f !== undefined) return f;
  var def = FD[p];
  if (def === undefined) return null;
  f = FC[p] = def();
  var T = Object.create(null), i, g, n;
  for (i = 0; i < f.imports.length; i++) {
    g = $F(f.imports[i]);
    if (g) for (n in g.own) T[n] = g.own[n];
  }
  for (n in f.own) T[n] = f.own[n];
  f.T = T;
  return f;
}
var $IX = Object.create(null);  /* files being included: as WeChat, an include loop stops where it closes */
function $inc(p, D, C, d) {
  if (d > MAX_TEMPLATE_DEPTH || $IX[p] === 1) return;
  var f = $F(p);
  if (!f) return;
  $IX[p] = 1;
  try { f.body(D, C, d + 1); } finally { $IX[p] = 0; }
}
/* WXS modules: instantiated once per render.js load, on first use */
function $W(p) {
  if ($HOP.call(WC, p)) return WC[p].exports;
  var def = WD[p];
  if (def === undefined) return undefined;
  var module = { exports: {} };
  WC[p] = module;
  var req = function (s) { return $HOP.call(def.r, s) ? $W(def.r[s]) : undefined; };
  def.f(module, module.exports, req, $getRegExp, $getDate);
  return module.exports;
}
function $getRegExp(p, f) { return new RegExp(p, f); }
function $getDate() {
  var a = Array.prototype.slice.call(arguments);
  return a.length === 0 ? new Date() : new (Function.prototype.bind.apply(Date, [null].concat(a)))();
}
/* Row memo of a wx:for (issue 13). The compiler passes a row function only for loops whose rows read
   nothing but their item, their index and top-level data fields `deps` (no WXS, no template, no
   include, no outer loop variable, no mutating method), over a list that is a plain data path. The
   framework's memo context `$MC` knows what setData changed since a version (`mc.since(obj, ver)`:
   the keys of `obj` set since, or null when that history is gone): an untouched row of the same list
   array, with the same deps, gives the vnodes it gave last time (the same objects, which the diff
   skips). Anything else renders the loop in full.
   With `sole` (the loop is all its element holds, and nothing is pushed after it), the rows array
   itself is returned to be the element's children: kept from one render to the next and changed in
   place at the rows re-rendered, nothing is copied, and nothing the size of the list is freed; the
   diff finds the changed rows through the hint it carries. Otherwise the rows are pushed into C,
   which is returned. `$MS.rows` counts the rows rendered (a debug figure for tests). */
var $MC = null, $MS = __mb.memoStats = { rows: 0 };
function $MPush(C, xs) {
  if (xs.length <= 60000) { Array.prototype.push.apply(C, xs); return; }
  for (var i = 0; i < xs.length; i += 60000) Array.prototype.push.apply(C, xs.slice(i, i + 60000));
}
function $ML(C, site, l, deps, fn, sole) {
  var mc = $MC, occs = mc.occ || (mc.occ = Object.create(null)), occ = (occs[site] || 0) + 1;
  occs[site] = occ;
  var id = site + "#" + occ, E = mc.prev ? mc.prev.get(id) : undefined, n = l.length, D = mc.data, j, i, R;
  var dv = new Array(deps.length);
  for (j = 0; j < deps.length; j++) dv[j] = $g(D, deps[j]);
  var dirty = null, redo = null;
  if (E !== undefined && E.list === l) {
    var touchedData = mc.since(mc.root, E.ver), touchedList = mc.since(l, E.ver);
    if (touchedData !== null && touchedList !== null) {
      dirty = touchedList;
      for (j = 0; j < deps.length && dirty !== null; j++) {
        if (dv[j] !== E.deps[j] || touchedData.indexOf(deps[j]) >= 0) dirty = null;
      }
    }
  }
  if (dirty === null) {
    $MS.rows += n;
    E = { list: l, rows: new Array(n), flat: null, single: true, ver: 0, deps: null, n: n };
    for (i = 0; i < n; i++) {
      R = [];
      fn(l[i], i, R);
      E.rows[i] = R;
      if (R.length !== 1) E.single = false;
    }
  } else {
    var rows = E.rows, changed = false;
    if (n !== E.n) { rows.length = n; changed = true; }
    redo = [];
    for (j = 0; j < dirty.length; j++) { i = +dirty[j]; if (i >= 0 && i < n && i < E.n && i === Math.floor(i)) redo.push(i); }
    for (i = E.n; i < n; i++) redo.push(i);
    $MS.rows += redo.length;
    for (j = 0; j < redo.length; j++) {
      i = redo[j];
      R = [];
      fn(l[i], i, R);
      if (E.single && E.flat !== null && R.length === 1 && rows[i] !== undefined && rows[i].length === 1 && i < E.flat.length) E.flat[i] = R[0];
      else changed = true;
      rows[i] = R;
      if (R.length !== 1) E.single = false;
    }
    if (changed) E.flat = null;
    E.n = n;
  }
  if (E.flat === null) {
    if (E.single) { E.flat = new Array(n); for (i = 0; i < n; i++) E.flat[i] = E.rows[i][0]; }
    else { E.flat = []; for (i = 0; i < n; i++) $MPush(E.flat, E.rows[i]); }
  }
  E.ver = mc.version;
  E.deps = dv;
  E.gen = (E.gen || 0) + 1;
  (mc.next || (mc.next = new Map())).set(id, E);
  /* the hint for the diff (02_vdom.js mbReconcile): C[at .. at+n) are E's rows, and only the rows in
     `redo` differ from what the previous use of E (generation gen - 1) gave; one loop per list */
  var hint = { E: E, gen: E.gen, at: C.length, n: E.flat.length, redo: E.single && redo !== null ? redo : null,
               sole: false };
  if (sole === 1 && C.length === 0 && C.$h === undefined) {
    /* the array is E's: the hint names no E (E -> array -> hint -> E would be a cycle, which keeps a
       replaced list's rows alive until the engine's cycle collector finds them) */
    hint.sole = true;
    hint.E = null;
    E.flat.$h = hint;
    return E.flat;
  }
  C.$h = C.$h === undefined ? hint : null;
  $MPush(C, E.flat);
  return C;
}
__mb.render = function (path, data, memo) {
  var f = $F(path);
  if (!f) throw new Error("minibox: no compiled WXML for " + path);
  var C = [];
  var outer = $MC;
  $MC = memo && memo.data === data ? memo : null;
  try {
    f.body(data !== null && typeof data === "object" ? data : {}, C, 0);
  } finally {
    $MC = outer;
  }
  return C;
};
__mb.hasRender = function (path) { return FD[path] !== undefined; };
__mb.renderErrors = [];
