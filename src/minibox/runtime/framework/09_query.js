// minibox framework, part 9: wx.createSelectorQuery and this.createSelectorQuery.
// Selectors run in the sandbox against the rendered tree, scoped to one component's template as in
// WeChat. The headless view has no layout, so rects and scroll offsets are zero-sized; a view with
// layout can answer them later through the same result shape.
"use strict";
var MB_QUERY_MAX_SELECTOR = 1024;

// ---- selector parsing: "a, b", compounds "view.c1#i", combinators " ", ">", ">>>" ----
function mbParseQuerySelector(text) {
  text = String(text || "");
  if (text.length > MB_QUERY_MAX_SELECTOR) throw new Error("createSelectorQuery: selector is too long");
  return text.split(",").map(function (part) {
    var tokens = part.trim().replace(/\s*(>>>|>)\s*/g, " $1 ").split(/\s+/).filter(Boolean);
    var steps = [];
    var comb = " ";
    tokens.forEach(function (tok) {
      if (tok === ">" || tok === ">>>") { comb = tok; return; }
      steps.push({ comb: comb, m: mbParseCompound(tok) });
      comb = " ";
    });
    return steps;
  }).filter(function (s) { return s.length; });
}

function mbParseCompound(tok) {
  var m = { tag: null, id: null, classes: [], any: false };
  var re = /([#.]?)([A-Za-z0-9_\-\u00a0-\uffff]+)|(\*)/g, x;
  while ((x = re.exec(tok))) {
    if (x[3]) m.any = true;
    else if (x[1] === "#") m.id = x[2];
    else if (x[1] === ".") m.classes.push(x[2]);
    else m.tag = x[2];
  }
  return m;
}

function mbQueryMatchCompound(r, m) {
  if (r.x !== undefined || r.t === "page") return false;
  if (m.tag && r.t !== m.tag) return false;
  if (m.id && String(r.a && r.a.id !== undefined ? r.a.id : "") !== m.id) return false;
  var cls = mbPlainClasses(r);
  for (var i = 0; i < m.classes.length; i++) if (cls.indexOf(m.classes[i]) < 0) return false;
  return true;
}

// Class names as written in WXML: style-scope prefixes and the :host marker removed.
var MB_SCOPED_CLASS = /^c[0-9a-f]{7}--/;
function mbPlainClasses(r) {
  var out = [];
  (r.cls || "").split(/\s+/).forEach(function (t) {
    if (!t) return;
    if (MB_SCOPED_CLASS.test(t)) {
      if (/--_host$/.test(t)) return;
      t = t.replace(MB_SCOPED_CLASS, "");
    }
    out.push(t);
  });
  return out;
}

// Parent of a node inside its owner's template; ">>>" may step out to the host of the owner.
function mbQueryParent(r, pierce) {
  var p = mbLogicalParent(r);
  if (p || !pierce) return p;
  return r.owner && r.owner.__host && r.owner.__host.owner ? r.owner.__host : null;
}

function mbQueryMatches(r, steps, scope) {
  function matchFrom(node, idx) {
    if (!mbQueryMatchCompound(node, steps[idx].m)) return false;
    if (idx === 0) return node.owner === scope;  // the selector starts in the scope's own template
    var comb = steps[idx].comb;
    var pierce = comb === ">>>";
    var p = mbQueryParent(node, pierce);
    if (comb === ">") return !!p && p.owner === node.owner && matchFrom(p, idx - 1);
    while (p) {
      if (matchFrom(p, idx - 1)) return true;
      p = mbQueryParent(p, pierce);
    }
    return false;
  }
  if (!steps.some(function (s) { return s.comb === ">>>"; }) && r.owner !== scope) return false;
  return matchFrom(r, steps.length - 1);
}

// Every rendered node reachable from a scope (its template, nested components, light DOM), in order.
function mbQueryWalk(scope, visit) {
  (function walk(list) {
    for (var i = 0; i < list.length; i++) {
      var r = list[i];
      if (visit(r)) return true;
      if (r.comp && walk(r.comp.__roots)) return true;
      if (r.c && walk(r.c)) return true;
      if (r.lightNodes && walk(r.lightNodes)) return true;  // the scope's nodes in a child's slots
    }
    return false;
  })(scope.__roots || []);
}

function mbQuerySelect(scope, selector, all) {
  var alternatives = mbParseQuerySelector(selector);
  var found = [];
  mbQueryWalk(scope, function (r) {
    if (r.x !== undefined) return false;
    if (alternatives.some(function (steps) { return mbQueryMatches(r, steps, scope); })) {
      found.push(r);
      return !all;
    }
    return false;
  });
  return found;
}

function mbParseInlineStyle(st) {
  var out = {};
  String(st || "").split(";").forEach(function (decl) {
    var i = decl.indexOf(":");
    if (i > 0) out[decl.slice(0, i).trim()] = decl.slice(i + 1).trim();
  });
  return out;
}

var MB_ZERO_RECT = { left: 0, right: 0, top: 0, bottom: 0, width: 0, height: 0 };

function mbQueryFields(r, f, viewport) {
  var out = {};
  if (f.id) out.id = viewport ? "" : (r.a && r.a.id !== undefined ? String(r.a.id) : "");
  if (f.dataset) out.dataset = viewport ? {} : mbClone(r.ds || {});
  if (f.mark) out.mark = viewport ? {} : mbClone(r.mk || {});
  if (f.rect) Object.assign(out, { left: 0, right: 0, top: 0, bottom: 0 });
  if (f.size) {
    var sys = MB.config && MB.config.system || {};
    out.width = viewport ? (sys.windowWidth || 0) : 0;
    out.height = viewport ? (sys.windowHeight || 0) : 0;
  }
  if (f.scrollOffset) Object.assign(out, { scrollLeft: 0, scrollTop: 0, scrollWidth: 0, scrollHeight: 0 });
  if (!viewport && Array.isArray(f.properties)) {
    f.properties.forEach(function (name) {
      var key = mbCamel(String(name));
      if (r.comp) out[key] = mbClone(r.comp.data[key]);
      else if (r.a && name in r.a) out[key] = mbClone(r.a[name]);
    });
  }
  if (!viewport && Array.isArray(f.computedStyle)) {
    var style = mbParseInlineStyle(r.st);
    f.computedStyle.forEach(function (name) { out[name] = style[name] !== undefined ? style[name] : ""; });
  }
  if (f.node) out.node = null;
  if (f.context) out.context = null;
  return out;
}

function MbNodesRef(query, selector, all, viewport) {
  this._query = query; this._selector = selector; this._all = all; this._viewport = viewport;
}
MbNodesRef.prototype._push = function (fields, cb) {
  this._query._tasks.push({ ref: this, fields: fields, cb: cb });
  return this._query;
};
MbNodesRef.prototype.boundingClientRect = function (cb) { return this._push({ id: true, dataset: true, rect: true, size: true }, cb); };
MbNodesRef.prototype.scrollOffset = function (cb) { return this._push({ id: true, dataset: true, scrollOffset: true }, cb); };
MbNodesRef.prototype.fields = function (fields, cb) { return this._push(mbIsPlainObject(fields) ? fields : {}, cb); };
MbNodesRef.prototype.node = function (cb) { return this._push({ node: true }, cb); };
MbNodesRef.prototype.context = function (cb) { return this._push({ context: true }, cb); };

function MbSelectorQuery(scope) { this._scope = scope || null; this._tasks = []; }
MbSelectorQuery.prototype.in = function (component) { if (component && component.__roots) this._scope = component; return this; };
MbSelectorQuery.prototype.select = function (sel) { return new MbNodesRef(this, sel, false, false); };
MbSelectorQuery.prototype.selectAll = function (sel) { return new MbNodesRef(this, sel, true, false); };
MbSelectorQuery.prototype.selectViewport = function () { return new MbNodesRef(this, null, false, true); };
MbSelectorQuery.prototype.exec = function (cb) {
  var scope = this._scope || MB.pages[MB.pages.length - 1] || null;
  var tasks = this._tasks;
  this._tasks = [];
  // answered once the view has applied this turn's patches, as WeChat answers asynchronously
  MB.afterFlush.push(function () {
    var results = tasks.map(function (t) {
      var res;
      if (t.ref._viewport) res = mbQueryFields(null, t.fields, true);
      else {
        var nodes = scope ? mbQuerySelect(scope, t.ref._selector, t.ref._all) : [];
        var mapped = nodes.map(function (r) { return mbQueryFields(r, t.fields, false); });
        res = t.ref._all ? mapped : (mapped[0] || null);
      }
      if (typeof t.cb === "function") mbGuard(scope, function () { t.cb(res); });
      return res;
    });
    if (typeof cb === "function") mbGuard(scope, function () { cb(results); });
  });
  return this;
};

// ---- IntersectionObserver: observers are registered against the rendered tree; intersection
// changes come from a view that lays pages out. The headless view has no layout, so nothing ever
// intersects there and callbacks do not run (as in a page that never scrolls). ----
var MB_MAX_INTERSECTION_OBSERVERS = 1000;
MB.intersectionObservers = new Set();

function MbIntersectionObserver(scope, options) {
  options = mbIsPlainObject(options) ? options : {};
  this._scope = scope;
  this._thresholds = Array.isArray(options.thresholds) ? options.thresholds.map(Number) : [0];
  this._initialRatio = Number(options.initialRatio) || 0;
  this._observeAll = !!options.observeAll;
  this._relative = null;
  this._targets = [];
}
MbIntersectionObserver.prototype.relativeTo = function (selector, margins) {
  this._relative = { selector: String(selector), margins: mbIsPlainObject(margins) ? mbClone(margins) : {} };
  return this;
};
MbIntersectionObserver.prototype.relativeToViewport = function (margins) {
  this._relative = { selector: null, margins: mbIsPlainObject(margins) ? mbClone(margins) : {} };
  return this;
};
MbIntersectionObserver.prototype.observe = function (selector, callback) {
  if (!this._relative) throw new Error("relativeTo or relativeToViewport must be called before observe");
  if (typeof callback !== "function") throw new TypeError("observe needs a callback");
  if (MB.intersectionObservers.size >= MB_MAX_INTERSECTION_OBSERVERS && !MB.intersectionObservers.has(this)) {
    throw new RangeError("too many intersection observers (limit " + MB_MAX_INTERSECTION_OBSERVERS + ")");
  }
  var scope = this._scope || MB.pages[MB.pages.length - 1] || null;
  var nodes = scope ? mbQuerySelect(scope, selector, this._observeAll) : [];
  this._targets.push({ ids: nodes.map(function (r) { return r.id; }), callback: callback });
  MB.intersectionObservers.add(this);
};
MbIntersectionObserver.prototype.disconnect = function () {
  this._targets = [];
  MB.intersectionObservers.delete(this);
};

// wx is built at init (06_wx.js): add the query and the observers there.
var mbBuildWxWithoutQuery = mbBuildWx;
mbBuildWx = function (apis) {
  var wx = mbBuildWxWithoutQuery(apis);
  wx.createSelectorQuery = function () { return new MbSelectorQuery(null); };
  wx.createIntersectionObserver = function (component, options) {
    return new MbIntersectionObserver(component && component.__roots ? component : null, options);
  };
  return wx;
};
mbInstanceProto.createSelectorQuery = function () { return new MbSelectorQuery(this); };
mbInstanceProto.createIntersectionObserver = function (options) { return new MbIntersectionObserver(this, options); };
