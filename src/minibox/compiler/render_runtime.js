/* minibox render runtime: the helpers every compiled WXML render function calls. Pure functions. */
var $HOP = Object.prototype.hasOwnProperty;
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
__mb.render = function (path, data) {
  var f = $F(path);
  if (!f) throw new Error("minibox: no compiled WXML for " + path);
  var C = [];
  f.body(data !== null && typeof data === "object" ? data : {}, C, 0);
  return C;
};
__mb.hasRender = function (path) { return FD[path] !== undefined; };
__mb.renderErrors = [];
