// minibox framework, part 1: setData paths and WeChat's data rules.
"use strict";
var MB_SETDATA_LIMIT = 1024 * 1024;
var MB_FORBIDDEN_SEGMENTS = { "__proto__": 1, "constructor": 1, "prototype": 1 };

// 'list[2].name' -> ["list", 2, "name"]; 'a.b.c' -> ["a","b","c"].
function mbParsePath(path) {
  var segs = [];
  var i = 0, cur = "", n = path.length;
  while (i < n) {
    var ch = path.charAt(i);
    if (ch === "\\" && i + 1 < n) { cur += path.charAt(i + 1); i += 2; continue; }
    if (ch === ".") {
      if (cur === "") throw new Error("Invalid data path: " + path);
      segs.push(cur); cur = ""; i++; continue;
    }
    if (ch === "[") {
      if (cur !== "") { segs.push(cur); cur = ""; }
      var j = path.indexOf("]", i);
      if (j < 0) throw new Error("Invalid data path: " + path);
      var idx = path.slice(i + 1, j).trim();
      if (!/^\d+$/.test(idx)) throw new Error("Invalid data path: " + path);
      segs.push(parseInt(idx, 10));
      i = j + 1;
      if (path.charAt(i) === ".") i++;
      continue;
    }
    cur += ch; i++;
  }
  if (cur !== "") segs.push(cur);
  if (!segs.length) throw new Error("Invalid data path: " + path);
  segs.forEach(function (s) {
    if (typeof s === "string" && MB_FORBIDDEN_SEGMENTS[s]) {
      throw new Error('setData: data path "' + path + '" uses the forbidden key "' + s + '"');
    }
  });
  return segs;
}

function mbSetPath(root, segs, value) {
  var obj = root;
  for (var i = 0; i < segs.length - 1; i++) {
    var s = segs[i];
    var next = obj[s];
    if (next === null || typeof next !== "object") {
      next = typeof segs[i + 1] === "number" ? [] : {};
      obj[s] = next;
    }
    obj = next;
  }
  obj[segs[segs.length - 1]] = value;
}

function mbGetPath(root, segs) {
  var obj = root;
  for (var i = 0; i < segs.length; i++) {
    if (obj === null || obj === undefined) return undefined;
    obj = obj[segs[i]];
  }
  return obj;
}

function mbJsonSize(v) {
  var s;
  try { s = mbStringify(v); } catch (e) { throw new Error("setData: data is not JSON-serialisable: " + e.message); }
  return s === undefined ? 0 : s.length;
}

// Applies a setData object to `data`; returns the list of changed paths (as segment arrays).
function mbApplySetData(data, patch, who) {
  if (!mbIsPlainObject(patch)) throw new TypeError("setData: the argument must be an object");
  var size = mbJsonSize(patch);
  if (size > MB_SETDATA_LIMIT) {
    throw new Error("Exceed max data size: setData data size " + Math.ceil(size / 1024) +
      "KB exceeds the limit 1024KB (" + who + ")");
  }
  var changed = [];
  Object.keys(patch).forEach(function (key) {
    var value = patch[key];
    if (value === undefined) {
      mbWarn('Setting data field "' + key + '" to undefined is invalid.');
      return;
    }
    var segs = mbParsePath(key);
    mbSetPath(data, segs, mbClone(value));
    mbTouchPath(data, segs);
    changed.push(segs);
  });
  return changed;
}

// Does a changed path touch the field an observer watches? Either one is a prefix of the other.
function mbPathTouches(changed, watched, deep) {
  var n = Math.min(changed.length, watched.length);
  for (var i = 0; i < n; i++) if (String(changed[i]) !== String(watched[i])) return false;
  if (changed.length <= watched.length) return true;
  return deep || changed.length > watched.length;
}

// What setData changed, for the row memo of compiled wx:for loops (render_runtime.js `$ML`): each
// container on a set path logs the key set in it with a new version. `mbTouchedSince(obj, ver)` gives
// the keys of `obj` set after version `ver`, or null when that part of its log was dropped.
MB.dataVersion = 0;
var MB_TOUCH_LOGS = new WeakMap();  // container -> { log: [version, key, ...], floor: version }
var MB_TOUCH_LOG_MAX = 512;

function mbTouch(obj, key) {
  if (obj === null || typeof obj !== "object") return;
  var rec = MB_TOUCH_LOGS.get(obj);
  if (!rec) { rec = { log: [], floor: 0 }; MB_TOUCH_LOGS.set(obj, rec); }
  var ver = ++MB.dataVersion;
  if (rec.log.length >= 2 * MB_TOUCH_LOG_MAX) {
    var drop = rec.log.length - MB_TOUCH_LOG_MAX;  // an even count: whole [version, key] pairs
    rec.floor = rec.log[drop - 2];
    rec.log = rec.log.slice(drop);
  }
  rec.log.push(ver, String(key));
}

function mbTouchPath(root, segs) {
  var obj = root;
  for (var i = 0; i < segs.length; i++) {
    if (obj === null || typeof obj !== "object") return;
    mbTouch(obj, segs[i]);
    obj = obj[segs[i]];
  }
}

function mbTouchedSince(obj, ver) {
  var rec = obj !== null && typeof obj === "object" ? MB_TOUCH_LOGS.get(obj) : undefined;
  if (!rec) return [];
  if (rec.floor > ver) return null;
  var out = [], log = rec.log;
  for (var i = log.length - 2; i >= 0 && log[i] > ver; i -= 2) out.push(log[i + 1]);
  return out;
}
