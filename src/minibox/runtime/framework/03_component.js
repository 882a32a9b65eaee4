// minibox framework, part 3: components (and pages, which are components with a page lifecycle).
"use strict";

// ---- definitions ----
function mbBehaviorDef(options, isBehavior) {
  return { __mbBehavior: !!isBehavior, options: options || {} };
}

globalThis.Behavior = function Behavior(options) { return mbBehaviorDef(options, true); };

var MB_BUILTIN_BEHAVIORS = {
  "wx://form-field": mbBehaviorDef({ properties: { name: { type: String, value: "" }, value: { type: null, value: null } } }, true),
  "wx://form-field-group": mbBehaviorDef({}, true),
  "wx://form-field-button": mbBehaviorDef({}, true),
  "wx://component-export": mbBehaviorDef({}, true),
};

globalThis.Component = function Component(options) {
  var path = MB.currentDefPath;
  if (!path) throw new Error("Component() must be called while its module is loaded by the framework");
  MB.defs[path] = { kind: "component", options: options || {}, path: path };
};

var MB_LIFETIMES = ["created", "attached", "ready", "moved", "detached", "error"];
var MB_PAGE_LIFETIMES = ["show", "hide", "resize", "routeDone"];

function mbNormalizeProperty(name, p) {
  if (p === null || typeof p === "function") return { type: p, value: mbDefaultFor(p), optionalTypes: null };
  if (typeof p === "object" && ("type" in p || "value" in p || "observer" in p || "optionalTypes" in p)) {
    var type = p.type === undefined ? null : p.type;
    return {
      type: type,
      value: "value" in p ? p.value : mbDefaultFor(type),
      observer: p.observer || null,
      optionalTypes: p.optionalTypes || null,
    };
  }
  return { type: null, value: p, optionalTypes: null };
}

function mbDefaultFor(type) {
  if (type === String) return "";
  if (type === Number) return 0;
  if (type === Boolean) return false;
  if (type === Object) return null;
  if (type === Array) return [];
  return null;
}

// Merge behaviors depth-first (a behavior's own behaviors first), then the component itself.
function mbCompileDef(def) {
  if (def.compiled) return def.compiled;
  var out = {
    properties: {}, data: {}, methods: {}, observers: [], externalClasses: [],
    lifetimes: {}, pageLifetimes: {}, relations: {}, options: {}, behaviors: [], exportFn: null,
  };
  MB_LIFETIMES.forEach(function (n) { out.lifetimes[n] = []; });
  MB_PAGE_LIFETIMES.forEach(function (n) { out.pageLifetimes[n] = []; });
  var seen = new Set();
  function merge(options, isRoot) {
    (options.behaviors || []).forEach(function (b) {
      if (typeof b === "string") b = MB_BUILTIN_BEHAVIORS[b] || null;
      if (!b || !b.__mbBehavior) return;
      if (seen.has(b)) return;
      seen.add(b);
      out.behaviors.push(b);
      merge(b.options, false);
    });
    if (options.behaviors && options.behaviors.indexOf("wx://component-export") >= 0 && options.export) {
      out.exportFn = options.export;
    }
    var props = options.properties || {};
    Object.keys(props).forEach(function (name) { out.properties[name] = mbNormalizeProperty(name, props[name]); });
    var data = typeof options.data === "function" ? options.data() : options.data;
    if (data) Object.keys(data).forEach(function (k) {
      var v = mbClone(data[k]);
      if (mbIsPlainObject(out.data[k]) && mbIsPlainObject(v)) out.data[k] = Object.assign({}, out.data[k], v);
      else out.data[k] = v;
    });
    var methods = options.methods || {};
    Object.keys(methods).forEach(function (k) { out.methods[k] = methods[k]; });
    var life = options.lifetimes || {};
    MB_LIFETIMES.forEach(function (n) {
      var fn = life[n] || options[n];
      if (typeof fn === "function") out.lifetimes[n].push(fn);
    });
    var pl = options.pageLifetimes || {};
    MB_PAGE_LIFETIMES.forEach(function (n) { if (typeof pl[n] === "function") out.pageLifetimes[n].push(pl[n]); });
    var obs = options.observers || {};
    Object.keys(obs).forEach(function (spec) {
      var fields = spec.split(",").map(function (s) { return s.trim(); }).filter(Boolean).map(function (f) {
        if (f === "**") return { segs: [], deep: true };
        var deep = /\.\*\*$/.test(f);
        return { segs: mbParsePath(deep ? f.slice(0, -3) : f), deep: deep };
      });
      out.observers.push({ fields: fields, fn: obs[spec] });
    });
    (options.externalClasses || []).forEach(function (c) { out.externalClasses.push(c); });
    var rel = options.relations || {};
    Object.keys(rel).forEach(function (k) { out.relations[k] = rel[k]; });
    if (isRoot) out.options = Object.assign({}, options.options || {});
  }
  merge(def.options, true);
  def.compiled = out;
  return out;
}

function mbLoadDef(path) {
  if (MB.defs[path]) return MB.defs[path];
  var file = path + ".js";
  if (!MB.modules[file]) throw new Error('component "' + path + '" has no ' + file);
  var prev = MB.currentDefPath;
  MB.currentDefPath = path;
  try { mbRequire(file); } finally { MB.currentDefPath = prev; }
  if (!MB.defs[path]) throw new Error('"' + file + '" did not call Component() or Page()');
  return MB.defs[path];
}

function mbUsingFor(path) {
  var cfg = MB.config.pages[path] || MB.config.components[path];
  return (cfg && cfg.usingComponents) || {};
}

function mbComponentPathFor(owner, tag) {
  if (!owner || !owner.__using) return null;
  var p = owner.__using[tag];
  return p || null;
}

// ---- property values ----
function mbCoerce(prop, value) {
  var type = prop.type;
  if (value === undefined) return mbClone(prop.value);
  if (type === null || type === undefined) return value;
  if (prop.optionalTypes) {
    for (var i = 0; i < prop.optionalTypes.length; i++) if (mbTypeMatches(prop.optionalTypes[i], value)) return value;
  }
  if (type === String) return value === null ? "" : (typeof value === "object" ? mbStringify(value) : String(value));
  if (type === Number) { var n = Number(value); return isNaN(n) ? mbClone(prop.value) : n; }
  if (type === Boolean) return !!value;
  if (type === Array) return Array.isArray(value) ? value : mbClone(prop.value);
  if (type === Object) return (value !== null && typeof value === "object") || value === null ? value : mbClone(prop.value);
  return value;
}

function mbTypeMatches(type, value) {
  if (type === String) return typeof value === "string";
  if (type === Number) return typeof value === "number";
  if (type === Boolean) return typeof value === "boolean";
  if (type === Array) return Array.isArray(value);
  if (type === Object) return value !== null && typeof value === "object";
  return type === null;
}

function mbCamel(name) { return name.replace(/-([a-z])/g, function (_, c) { return c.toUpperCase(); }); }

// ---- instances ----
var mbInstanceProto = {
  setData: function (patch, callback) { mbSetData(this, patch, callback); },
  triggerEvent: function (name, detail, options) { mbTriggerEvent(this, name, detail, options || {}); },
  selectComponent: function (sel) {
    var found = mbSelectComponents(this, sel, true);
    return found.length ? mbExportOf(found[0]) : null;
  },
  selectAllComponents: function (sel) { return mbSelectComponents(this, sel, false).map(mbExportOf); },
  selectOwnerComponent: function () { return this.__owner ? this.__owner : null; },
  getPageId: function () { return "pageId:" + (this.__page ? this.__page.__pageId : 0); },
  hasBehavior: function (b) { return this.__def.behaviors.indexOf(b) >= 0; },
  getRelationNodes: function (path) { return mbRelationNodes(this, path); },
  createSelectorQuery: function () { return wx.createSelectorQuery().in(this); },
  getOpenerEventChannel: function () { return this.__eventChannel || new MbEventChannel(); },
  groupSetData: function (fn) { fn.call(this); },
};

function mbExportOf(inst) {
  var def = inst.__def;
  if (def.exportFn) return def.exportFn.call(inst);
  return inst;
}

function mbCreateInstance(path, def, host, owner, page) {
  var cdef = mbCompileDef(def);
  var inst = Object.create(mbInstanceProto);
  inst.is = path;
  inst.route = path;
  inst.__path = path;
  inst.__def = cdef;
  inst.__host = host;
  inst.__owner = owner;
  inst.__page = page || inst;
  inst.__using = mbUsingFor(path);
  inst.__roots = [];
  inst.__slots = Object.create(null);
  inst.__children = new Set();
  inst.__mounted = false;
  inst.__relations = [];
  var data = mbClone(cdef.data);
  Object.keys(cdef.properties).forEach(function (name) {
    if (!(name in data)) data[name] = mbClone(cdef.properties[name].value);
  });
  inst.data = data;
  inst.properties = data;
  Object.keys(cdef.methods).forEach(function (k) { inst[k] = cdef.methods[k]; });
  inst.id = host && host.a && host.a.id ? String(host.a.id) : "";
  inst.dataset = host ? host.ds || {} : {};
  if (owner) owner.__children.add(inst);
  return inst;
}

function mbCallLifetime(inst, name, args) {
  var fns = inst.__def.lifetimes[name];
  for (var i = 0; i < fns.length; i++) mbGuard(inst, function (fn) { fn.apply(inst, args || []); }, fns[i]);
}

function mbCallPageLifetime(inst, name, args) {
  var fns = inst.__def.pageLifetimes[name];
  for (var i = 0; i < fns.length; i++) mbGuard(inst, function (fn) { fn.apply(inst, args || []); }, fns[i]);
  inst.__children.forEach(function (child) { mbCallPageLifetime(child, name, args); });
}

// Run user code; an exception goes to App.onError and the console, never up into the framework.
// Out of memory is not the mini-program's to handle: the host discards the instance.
function mbGuard(inst, run, arg) {
  try { return run(arg); } catch (e) {
    if (e instanceof InternalError && /out of memory/.test(e.message)) throw e;
    mbReportError(e);
    return undefined;
  }
}

function mbMountComponent(host, owner, path) {
  var def = mbLoadDef(path);
  var inst = mbCreateInstance(path, def, host, owner, owner ? owner.__page : null);
  host.comp = inst;
  mbApplyProps(inst, host.a, null, true);
  mbCallLifetime(inst, "created");
  mbRenderComponent(inst);
  inst.__mounted = true;
  mbLinkRelations(inst);
  mbCallLifetime(inst, "attached");
  MB.afterFlush.push(function () { if (inst.__mounted) mbCallLifetime(inst, "ready"); });
  return inst;
}

function mbUnmountComponent(inst) {
  if (!inst.__mounted) return;
  inst.__mounted = false;
  mbUnlinkRelations(inst);
  mbCallLifetime(inst, "detached");
  if (inst.__owner) inst.__owner.__children.delete(inst);
}

// Host attributes -> properties; returns true when something changed.
function mbApplyProps(inst, attrs, oldAttrs, initial) {
  var props = inst.__def.properties;
  var changed = [];
  Object.keys(props).forEach(function (name) {
    var prop = props[name];
    var kebab = name.replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); });
    var has = name in attrs ? name : (kebab in attrs ? kebab : null);
    var hadBefore = oldAttrs && ((name in oldAttrs) || (kebab in oldAttrs));
    if (!has && !hadBefore) return;
    var value = has ? mbCoerce(prop, attrs[has]) : mbClone(prop.value);
    var old = inst.data[name];
    if (!initial && mbEqual(old, value)) return;
    if (initial && !has) return;
    inst.data[name] = value;
    changed.push({ name: name, value: value, old: old, prop: prop });
  });
  changed.forEach(function (c) {
    if (c.prop.observer) {
      var fn = typeof c.prop.observer === "string" ? inst[c.prop.observer] : c.prop.observer;
      if (typeof fn === "function") mbGuard(inst, function () { fn.call(inst, c.value, c.old, [c.name]); });
    }
  });
  if (changed.length) mbRunObservers(inst, changed.map(function (c) { return [c.name]; }));
  return changed.length > 0;
}

function mbUpdateComponentProps(inst, attrs, oldAttrs) {
  inst.id = attrs.id ? String(attrs.id) : "";
  inst.dataset = inst.__host.ds || {};
  if (mbApplyProps(inst, attrs, oldAttrs, false)) mbRenderComponent(inst);
}

function mbRunObservers(inst, changedPaths) {
  inst.__def.observers.forEach(function (ob) {
    var hit = ob.fields.some(function (f) {
      return changedPaths.some(function (p) { return mbPathTouches(p, f.segs, f.deep); });
    });
    if (!hit) return;
    var args = ob.fields.map(function (f) { return f.segs.length ? mbGetPath(inst.data, f.segs) : inst.data; });
    mbGuard(inst, function () { ob.fn.apply(inst, args); });
  });
}

function mbSetData(inst, patch, callback) {
  var changed = mbApplySetData(inst.data, patch, inst.__path);
  // property observers fire for top-level property fields set through setData
  var props = inst.__def.properties;
  changed.forEach(function (segs) {
    var prop = segs.length === 1 ? props[segs[0]] : null;
    if (prop && prop.observer) {
      var fn = typeof prop.observer === "string" ? inst[prop.observer] : prop.observer;
      if (typeof fn === "function") mbGuard(inst, function () { fn.call(inst, inst.data[segs[0]], undefined, segs); });
    }
  });
  mbRunObservers(inst, changed);
  if (inst.__mounted || inst.__isPage) mbRenderComponent(inst);
  if (typeof callback === "function") MB.afterFlush.push(function () { mbGuard(inst, function () { callback.call(inst); }); });
}

function mbRenderData(inst) {
  var pure = inst.__def.options.pureDataPattern;
  if (!pure) return inst.data;
  var out = {};
  Object.keys(inst.data).forEach(function (k) { if (!pure.test(k)) out[k] = inst.data[k]; });
  return out;
}

function mbRenderComponent(inst) {
  if (!inst.__host || inst.__rendering) return;
  inst.__rendering = true;
  try {
    var vnodes = __mb.render(inst.__path, mbRenderData(inst));
    inst.__roots = mbReconcile(inst, inst.__host, inst.__host.id, inst.__roots, vnodes);
  } finally {
    inst.__rendering = false;
  }
  if (inst.__host.light !== undefined) mbRenderLight(inst.__host);
}

// Light DOM: the children a parent wrote inside a component tag, rendered with the parent's data
// into the component's <slot> elements.
function mbRenderLight(host) {
  var inst = host.comp;
  if (!inst) return;
  var multiple = !!inst.__def.options.multipleSlots;
  var groups = Object.create(null);
  (host.light || []).forEach(function (v) {
    var name = multiple && v.a && v.a.slot ? String(v.a.slot) : "";
    (groups[name] || (groups[name] = [])).push(v);
  });
  host.lightBy = host.lightBy || Object.create(null);
  host.lightSlot = host.lightSlot || Object.create(null);
  var names = new Set(Object.keys(groups).concat(Object.keys(host.lightBy)));
  var all = [];
  names.forEach(function (name) {
    var slot = inst.__slots[name] || null;
    var old = host.lightBy[name] || [];
    var parent = slot || host;
    var domParent = slot ? slot.id : null;
    if (host.lightSlot[name] !== (slot ? slot.id : null)) {
      // the slot element is new: what we had was detached with the old one
      old.forEach(function (n) { mbDestroyNode(n, false); });
      old = [];
      host.lightSlot[name] = slot ? slot.id : null;
    }
    var list = mbReconcile(host.owner, parent, domParent, old, groups[name] || []);
    host.lightBy[name] = list;
    all = all.concat(list);
  });
  host.lightNodes = all;
}
