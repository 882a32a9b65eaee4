// minibox framework, part 3: components (and pages, which are components with a page lifecycle).
"use strict";

// ---- definitions ----
function mbBehaviorDef(options, isBehavior) {
  return { __mbBehavior: !!isBehavior, options: options || {} };
}

// definitionFilter: a behavior may rewrite the definition of whatever uses it (component or
// behavior), called with that definition and the filters of the behavior's own behaviors.
function mbApplyDefinitionFilters(options) {
  (options.behaviors || []).forEach(function (b) {
    if (b && b.__mbBehavior && b.boundFilter) b.boundFilter(options);
  });
}

globalThis.Behavior = function Behavior(options) {
  options = options || {};
  mbApplyDefinitionFilters(options);
  var b = mbBehaviorDef(options, true);
  if (typeof options.definitionFilter === "function") {
    var own = (options.behaviors || []).map(function (x) { return x && x.boundFilter ? x.boundFilter : null; });
    b.boundFilter = function (defFields) { options.definitionFilter(defFields, own); };
  }
  return b;
};

var MB_BUILTIN_BEHAVIORS = {
  "wx://form-field": mbBehaviorDef({ properties: { name: { type: String, value: "" }, value: { type: null, value: null } } }, true),
  "wx://form-field-group": mbBehaviorDef({}, true),
  "wx://form-field-button": mbBehaviorDef({}, true),
  "wx://component-export": mbBehaviorDef({}, true),
};

// For a form's submit: a component host whose component has wx://form-field -> {name, value}.
function mbFormFieldOf(node) {
  var inst = node && node.comp;
  if (!inst || inst.__def.behaviors.indexOf(MB_BUILTIN_BEHAVIORS["wx://form-field"]) < 0) return null;
  var name = inst.data.name;
  return { name: name === undefined || name === null ? "" : String(name), value: mbClone(inst.data.value) };
}

globalThis.Component = function Component(options) {
  var path = MB.currentDefPath;
  if (!path) throw new Error("Component() must be called while its module is loaded by the framework");
  options = options || {};
  mbApplyDefinitionFilters(options);
  MB.defs[path] = { kind: "component", options: options, path: path };
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
    if (data) Object.keys(data).forEach(function (k) { out.data[k] = mbMergeData(out.data[k], mbClone(data[k])); });
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
        return { segs: mbParsePath(deep ? f.slice(0, -3) : f).map(String), deep: deep };
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

// Data of behaviors and component merge deeply: an object merges into what is there (an object
// or an array, by key); anything else (arrays included) replaces it. As glass-easel's behaviors.
function mbMergeData(dst, src) {
  if (!mbIsPlainObject(src) || dst === null || typeof dst !== "object") return src;
  var out = Array.isArray(dst) ? dst.slice() : Object.assign({}, dst);
  Object.keys(src).forEach(function (k) { out[k] = mbMergeData(out[k], src[k]); });
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

// Abstract components (componentGenerics): `<list generic:item="my-item">` makes `<item>` inside the
// list's template the component the user's `my-item` tag names; else the generic's default.
function mbUsingWithGenerics(path, host, owner) {
  var using = mbUsingFor(path);
  var cfg = MB.config.components[path];
  var generics = cfg && cfg.json && cfg.json.componentGenerics;
  if (!mbIsPlainObject(generics)) return using;
  using = Object.assign({}, using);
  Object.keys(generics).forEach(function (name) {
    var chosen = host && host.a ? host.a["generic:" + name] : undefined;
    var target = chosen && owner && owner.__using ? owner.__using[String(chosen)] : null;
    if (!target && mbIsPlainObject(generics[name]) && typeof generics[name]["default"] === "string") target = generics[name]["default"];
    if (target) using[name] = target;
  });
  return using;
}

function mbComponentPathFor(owner, tag) {
  if (!owner || !owner.__using) return null;
  var p = owner.__using[tag];
  return p || null;
}

// ---- property values (WeChat's conversion rules, as in glass-easel's convertValueToType) ----
function mbCoerce(prop, value) {
  var type = prop.type;
  if (prop.optionalTypes) {
    for (var i = 0; i < prop.optionalTypes.length; i++) if (mbTypeMatches(prop.optionalTypes[i], value)) return value;
  }
  if (type === String) return value === null || value === undefined ? mbClone(prop.value) : String(value);
  if (type === Number) return isFinite(value) ? Number(value) : mbClone(prop.value);
  if (type === Boolean) return !!value;
  if (type === Array) return Array.isArray(value) ? value : mbClone(prop.value);
  if (type === Object) return typeof value === "object" ? value : mbClone(prop.value);
  if (type === Function) return typeof value === "function" ? value : mbClone(prop.value);
  return value === undefined ? mbClone(prop.value) : value;
}

function mbTypeMatches(type, value) {
  if (type === String) return typeof value === "string";
  if (type === Number) return typeof value === "number" && isFinite(value);
  if (type === Boolean) return typeof value === "boolean";
  if (type === Array) return Array.isArray(value);
  if (type === Object) return value !== null && typeof value === "object" && !Array.isArray(value);
  if (type === Function) return typeof value === "function";
  return value !== undefined;
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

// What every instance of a definition starts from, computed once: its data then the defaults of the
// properties it does not name, in that order (each instance gets its own copy of object values),
// and the names of its methods.
function mbInstanceTemplate(cdef) {
  var data = mbClone(cdef.data);
  var props = Object.keys(cdef.properties);
  for (var i = 0; i < props.length; i++) if (!(props[i] in data)) data[props[i]] = cdef.properties[props[i]].value;
  var keys = Object.keys(data);
  cdef.instanceTemplate = {
    keys: keys, vals: keys.map(function (k) { return data[k]; }), methods: Object.keys(cdef.methods),
  };
  return cdef.instanceTemplate;
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
  inst.__using = mbUsingWithGenerics(path, host, owner);
  inst.__scope = mbScopeOf(path);
  inst.__isolationMode = mbIsolation(inst);
  inst.__roots = [];
  inst.__slots = Object.create(null);
  inst.__children = new Set();
  inst.__mounted = false;
  inst.__relations = [];
  var tmpl = cdef.instanceTemplate || mbInstanceTemplate(cdef);
  var data = {}, keys = tmpl.keys, vals = tmpl.vals, i, v;
  for (i = 0; i < keys.length; i++) {
    v = vals[i];
    data[keys[i]] = v !== null && typeof v === "object" ? mbClone(v) : v;
  }
  inst.data = data;
  inst.properties = data;
  var methods = cdef.methods, names = tmpl.methods;
  for (i = 0; i < names.length; i++) inst[names[i]] = methods[names[i]];
  inst.id = host && host.a && host.a.id ? String(host.a.id) : "";
  inst.dataset = host && host.ds && host.ds !== MB_NO_DATASET ? host.ds : {};
  if (owner) owner.__children.add(inst);
  return inst;
}

function mbCallLifetime(inst, name, args) {
  var fns = inst.__def.lifetimes[name];
  for (var i = 0; i < fns.length; i++) mbGuard(inst, function (fn) { fn.apply(inst, args || []); }, fns[i]);
  // a page's components attach right after the page itself
  if (name === "attached" && inst.__isPage && MB.renderDepth === 0) mbFlushAttach();
}

function mbCallPageLifetime(inst, name, args) {
  var fns = inst.__def.pageLifetimes[name];
  for (var i = 0; i < fns.length; i++) mbGuard(inst, function (fn) { fn.apply(inst, args || []); }, fns[i]);
  inst.__children.forEach(function (child) { mbCallPageLifetime(child, name, args); });
}

// Run user code; an exception goes to App.onError and the console, never up into the framework.
// Out of memory is not the mini-program's to handle: the host discards the instance.
function mbGuard(inst, run, arg) {
  try { return mbWatchPromise(run(arg)); } catch (e) {
    if (e instanceof InternalError && /out of memory/.test(e.message)) throw e;
    // QuickJS throws null when it cannot even allocate its out-of-memory error: fail closed (a
    // mini-program's own `throw null` is treated the same way)
    if (e === null) throw new InternalError("out of memory (the engine threw null)");
    mbReportError(e);
    // the component's `error` lifetime hears about errors thrown by its own code
    var fns = inst && inst.__def && !inst.__inError ? inst.__def.lifetimes.error : null;
    if (fns && fns.length) {
      inst.__inError = true;
      try {
        fns.forEach(function (fn) { try { fn.call(inst, e); } catch (e2) { mbReportError(e2); } });
      } finally { inst.__inError = false; }
    }
    return undefined;
  }
}

// Components created during a render pass are attached once the pass is over, in tree order
// (a component before its shadow tree, its shadow tree before its light children), as WeChat does.
MB.pendingAttach = [];
MB.renderDepth = 0;

MB.brokenDefs = Object.create(null);  // component path -> why it cannot be used (reported once)
var MB_DEFAULT_PLAIN = Object.create(null);  // component path -> its default render creates no component

function mbHasGenerics(path) {
  var cfg = MB.config.components[path];
  return !!(cfg && cfg.json && mbIsPlainObject(cfg.json.componentGenerics));
}

function mbMountComponent(host, owner, path) {
  if (MB.brokenDefs[path]) return null;
  var broken = MB.config.broken && MB.config.broken[path];
  if (broken && broken.length) {
    // its WXML, WXSS or JSON failed to compile: an empty element, reported once
    MB.brokenDefs[path] = broken.join("\n");
    mbReportError(new Error('component "' + path + '" failed to compile:\n' + MB.brokenDefs[path]));
    return null;
  }
  var def;
  try { def = mbLoadDef(path); } catch (e) {
    // a component whose module fails renders as an empty element; the page goes on
    MB.brokenDefs[path] = e && e.message ? e.message : String(e);
    mbReportError(e);
    return null;
  }
  var inst = mbCreateInstance(path, def, host, owner, owner ? owner.__page : null);
  host.comp = inst;
  // As glass-easel (without propertyEarlyInit): the template is first rendered with the default
  // values, `created` runs, then the values the user wrote arrive as an update (data observers,
  // re-render, property observers). Nested components thus see their props change after creation.
  MB.pendingAttach.push(inst);
  // Whether the default render creates a component depends only on the definition (its data and
  // property defaults), unless generics let the user choose tags: known after the first mount.
  var generic = mbHasGenerics(path);
  var first = !generic && MB_DEFAULT_PLAIN[path] === true ? null : mbRenderTemplate(inst, true);
  var plainDefault = first === null || !mbHasComponentTags(inst, first);
  if (!generic) MB_DEFAULT_PLAIN[path] = plainDefault;
  if (plainDefault) {
    // The default render creates no component: rendering once, after the props, is the same to
    // everyone, and cheaper.
    mbCallLifetime(inst, "created");
    var plain = mbApplyProps(inst, host.a, null, true);
    mbRunPropDataObservers(inst, plain);
    mbRenderComponent(inst);
    mbFirePropObservers(inst, plain);
    return inst;
  }
  // Both renders happen before anything is sent: the operations of the mount are recorded, those
  // about the new subtree dropped, and the view gets the final subtree once (mbMaterialize).
  var outer = MB.ops;
  var firstId = MB.nextNodeId;
  var recorded = [];
  var sink = [];
  sink.mbRecording = true;
  sink.push = function (op) { recorded.push(op); return 0; };  // length stays 0: never flushed as is
  MB.ops = sink;
  try {
    mbRenderComponent(inst, mbResolveExternalClasses(inst, first));
    mbCallLifetime(inst, "created");
    var changed = mbApplyProps(inst, host.a, null, true);
    mbRunPropDataObservers(inst, changed);
    if (changed.length) mbRenderComponent(inst);
    mbFirePropObservers(inst, changed);
  } finally {
    MB.ops = outer;
  }
  if (outer.mbRecording) {
    recorded.forEach(function (op) { outer.push(op); });  // the outermost mount sorts them out
    return inst;
  }
  var subtree = mbSubtreeIds(host);
  // keep what the mount did elsewhere (a handler re-rendering its page): ops naming neither a node
  // of the new subtree nor a node born and gone during the mount
  recorded.forEach(function (op) {
    for (var i = 1; i < op.length && i < 4; i++) {
      var id = op[i];
      if (typeof id !== "number" || (op[0] !== "insert" && i > 1)) continue;
      if (subtree.has(id) || (id >= firstId && !MB.nodes.has(id))) return;
    }
    mbOp(op);
  });
  mbMaterialize(host);
  return inst;
}

function mbSubtreeIds(host) {
  var ids = new Set();
  (function walk(r) {
    var kids = r.comp ? r.comp.__roots.concat(r.lightNodes || []) : (r.c || []);
    kids.forEach(function (k) { ids.add(k.id); if (k.x === undefined) walk(k); });
  })(host);
  return ids;
}

// The operations that build, in the view, what a component host holds (as mbCreateNode would).
function mbMaterialize(host) {
  mbSubtreeOps(host);  // 02_vdom.js: "tree" ops
}

// Attach what the last render pass created, unless its tree is not attached yet (a page being built).
function mbFlushAttach() {
  while (MB.pendingAttach.length) {
    var queue = MB.pendingAttach;
    MB.pendingAttach = [];
    queue.forEach(function (inst) {
      if (inst.__destroyed || inst.__mounted) return;
      inst.__mounted = true;
      mbCallLifetime(inst, "attached");
      mbLinkRelations(inst);
      MB.afterFlush.push(function () { if (inst.__mounted) mbCallLifetime(inst, "ready"); });
    });
  }
}

function mbTreeAttached(inst) {
  var page = inst.__page;
  return !!(page && page.__mounted);
}

function mbComponentMoved(inst) {
  if (!inst.__mounted) return;
  mbCallLifetime(inst, "moved");
  mbRelinkMoved(inst);
}

function mbUnmountComponent(inst) {
  inst.__destroyed = true;
  if (inst.__roots) inst.__roots.forEach(function (r) { mbDestroyNode(r, false); });
  inst.__roots = [];
  if (!inst.__mounted) { if (inst.__owner) inst.__owner.__children.delete(inst); return; }
  inst.__mounted = false;
  mbCallLifetime(inst, "detached");
  mbUnlinkRelations(inst);
  if (MB.intersectionObservers) MB.intersectionObservers.forEach(function (o) { if (o._scope === inst) o.disconnect(); });
  if (inst.__owner) inst.__owner.__children.delete(inst);
}

// Host attributes -> properties, in the order the user's template wrote them (observers fire in
// that order, as in glass-easel); returns the changes, with data already set.
function mbPropName(props, attr) {
  if (Object.prototype.hasOwnProperty.call(props, attr)) return attr;
  var camel = mbCamel(attr);
  return Object.prototype.hasOwnProperty.call(props, camel) ? camel : null;
}

// mbPropName, remembered per definition (every instance of a component gets the same attributes)
function mbPropNameOf(cdef, attr) {
  var names = cdef.propNames || (cdef.propNames = Object.create(null));
  var name = names[attr];
  if (name === undefined) {
    name = mbPropName(cdef.properties, attr);
    names[attr] = name === null ? "" : name;
    return name;
  }
  return name === "" ? null : name;
}

function mbApplyProps(inst, attrs, oldAttrs, initial) {
  var cdef = inst.__def, props = cdef.properties, data = inst.data;
  var changed = [];
  var seen = Object.create(null);
  // what setData changed is logged for the row memo of the instance's last render: before its first
  // render there is nothing to log for
  var log = !!inst.__memo;
  var attrNames = Object.keys(attrs), i, n = attrNames.length, extra = null;
  if (!initial && oldAttrs) {
    for (var name0 in oldAttrs) {
      if (Object.prototype.hasOwnProperty.call(oldAttrs, name0) && !Object.prototype.hasOwnProperty.call(attrs, name0)) {
        (extra || (extra = [])).push(name0);
      }
    }
    if (extra) attrNames = attrNames.concat(extra);
  }
  for (i = 0; i < attrNames.length; i++) {
    var attr = attrNames[i], present = i < n;
    var name = mbPropNameOf(cdef, attr);
    if (!name || seen[name]) continue;
    seen[name] = true;
    var prop = props[name];
    var hadBefore = !!oldAttrs && Object.prototype.hasOwnProperty.call(oldAttrs, attr);
    // an update reaches the component only when the value its user passes changed: the component's
    // own setData on a property is not undone by an unrelated re-render of its user
    if (!initial && present && hadBefore && mbEqual(oldAttrs[attr], attrs[attr])) continue;
    var value = present ? mbCoerce(prop, attrs[attr]) : mbClone(prop.value);
    var old = data[name];
    if (!initial && mbEqual(old, value) && (old === null || typeof old !== "object")) continue;
    data[name] = value;
    if (log) mbTouch(data, name);
    // property observers fire only on a real change (WeChat compares with ===; objects are copies)
    changed.push({ name: name, value: value, old: old, prop: prop, fire: old !== value });
  }
  return changed;
}

function mbRunPropDataObservers(inst, changed) {
  if (!changed.length || !inst.__def.observers.length) return;
  var paths = new Array(changed.length);
  for (var i = 0; i < changed.length; i++) paths[i] = [changed[i].name];
  mbRunObservers(inst, paths);
}

function mbFirePropObservers(inst, changed) {
  for (var i = 0; i < changed.length; i++) {
    var c = changed[i];
    if (c.fire && c.prop.observer) mbCallPropObserver(inst, c.prop, c.value, c.old);
  }
}

// Properties of a page built with Component(): set and observed before its first render.
function mbSetInitialProps(inst, attrs) {
  var changed = mbApplyProps(inst, attrs, null, true);
  mbRunPropDataObservers(inst, changed);
  mbFirePropObservers(inst, changed);
}

// New values from the user's template: data observers, then the re-render, then property
// observers (glass-easel's applyDataUpdates order).
function mbUpdateComponentProps(inst, attrs, oldAttrs) {
  inst.id = attrs.id ? String(attrs.id) : "";
  var ds = inst.__host.ds;
  inst.dataset = ds && ds !== MB_NO_DATASET ? ds : {};
  var classesChanged = inst.__def.externalClasses.some(function (name) {
    return !mbEqual(attrs[name], oldAttrs ? oldAttrs[name] : undefined);
  });
  var changed = mbApplyProps(inst, attrs, oldAttrs, false);
  if (classesChanged) inst.__memo = null;  // memoised rows resolved the old external classes
  mbRunPropDataObservers(inst, changed);
  if (changed.length || classesChanged) mbRenderComponent(inst);
  mbFirePropObservers(inst, changed);
}

// ---- style isolation and externalClasses ----
// A component's own class tokens are written with its style scope (`c1a2b3c--x`, the prefix its
// compiled sheet uses); apply-shared/shared components also keep the plain token, so page and app
// styles reach them. A token named like one of the component's external classes stands for the
// classes its user wrote in that attribute (`custom-class="a b"`), already in the user's scope;
// unset, it stands for nothing. Resolved tokens are marked final (MB_FINAL) on their way down.
var MB_FINAL = "\u0001";

function mbIsolation(inst) {
  var o = inst.__def.options, cfg = MB.config.components[inst.__path];
  var json = cfg && cfg.json ? cfg.json : {};
  var mode = o.styleIsolation || json.styleIsolation;
  if (!mode) mode = o.addGlobalClass || json.addGlobalClass ? "apply-shared" : "isolated";
  return mode;
}

function mbScopeOf(path) {
  var cfg = MB.config.components[path];
  return cfg && cfg.styleScope ? cfg.styleScope : null;
}

function mbExternalTokens(inst, cls) {
  var ext = inst.__def.externalClasses;
  var tokens = String(cls).split(/\s+/).filter(Boolean);
  if (!ext.length || !inst.__host) return tokens;
  var out = [];
  tokens.forEach(function (t) {
    if (ext.indexOf(t) < 0) { out.push(t); return; }
    var given = inst.__host.a[t];
    if (typeof given === "string") given.split(/\s+/).forEach(function (g) {
      if (g) out.push(g.charAt(0) === MB_FINAL ? g : MB_FINAL + g);
    });
  });
  return out;
}

// tokens -> the class list the view gets, in this component's scope
function mbScopedTokens(inst, tokens, keepMark) {
  var scope = inst.__scope, shared = inst.__isolationMode !== "isolated";
  var mark = keepMark ? MB_FINAL : "";
  var out = [];
  tokens.forEach(function (t) {
    if (t.charAt(0) === MB_FINAL) { out.push(keepMark ? t : t.slice(1)); return; }
    if (!scope) { out.push(mark + t); return; }
    out.push(mark + scope + "--" + t);
    if (shared) out.push(mark + t);
  });
  return out;
}

// A class list in `inst`'s scope. How a class list resolves depends only on the component's path
// (scope, isolation, external class names) but for the classes its user hands to its external
// classes: kept per path as a plan (resolved text, and the external class names to fill in from
// the host), as every instance of a component (a thousand cells of a list) writes the same lists.
var MB_CLASS_CACHE = Object.create(null);  // path -> {mark + class list -> plan}
var MB_CLASS_CACHE_MAX = 4096;              // class lists kept per path (class="row-{{i}}" makes many)
function mbClassPlan(inst, cls, keepMark) {
  var ext = inst.__def.externalClasses;
  var tokens = String(cls).split(/\s+/), plan = [], plain = [];
  for (var i = 0; i < tokens.length; i++) {
    var t = tokens[i];
    if (!t) continue;
    if (ext.indexOf(t) < 0) { plain.push(t); continue; }
    if (plain.length) { plan.push(mbScopedTokens(inst, plain, keepMark).join(" ")); plain = []; }
    plan.push({ e: t });
  }
  if (plain.length) plan.push(mbScopedTokens(inst, plain, keepMark).join(" "));
  if (plan.length === 0) return "";
  if (plan.length === 1 && typeof plan[0] === "string") return plan[0];
  return plan;
}

// The classes a user handed to an external class, as the component writes them on (marked final
// on their way down to a component's own external classes, unmarked on an element).
var MB_GIVEN_CACHE = [Object.create(null), Object.create(null)];
var MB_GIVEN_CACHE_N = 0;
function mbGivenClasses(given, keepMark) {
  var byMark = MB_GIVEN_CACHE[keepMark ? 1 : 0], hit = byMark[given];
  if (hit !== undefined) return hit;
  var out = [], parts = given.split(/\s+/);
  for (var i = 0; i < parts.length; i++) {
    var g = parts[i];
    if (!g) continue;
    if (keepMark) out.push(g.charAt(0) === MB_FINAL ? g : MB_FINAL + g);
    else out.push(g.charAt(0) === MB_FINAL ? g.slice(1) : g);
  }
  hit = out.join(" ");
  if (MB_GIVEN_CACHE_N < 8192) { byMark[given] = hit; MB_GIVEN_CACHE_N++; }
  return hit;
}

function mbResolvedClass(inst, cls, keepMark) {
  if (!inst.__host) return mbScopedTokens(inst, mbExternalTokens(inst, cls), keepMark).join(" ");
  var byPath = MB_CLASS_CACHE[inst.__path];
  if (byPath === undefined) byPath = MB_CLASS_CACHE[inst.__path] = { n: 0, m: Object.create(null) };
  var key = (keepMark ? "1" : "0") + cls, plan = byPath.m[key];
  if (plan === undefined) {
    plan = mbClassPlan(inst, cls, keepMark);
    if (byPath.n < MB_CLASS_CACHE_MAX) { byPath.m[key] = plan; byPath.n++; }
  }
  if (typeof plan === "string") return plan;
  var out = "", a = inst.__host.a;
  for (var i = 0; i < plan.length; i++) {
    var piece = plan[i];
    if (typeof piece !== "string") {
      var given = a[piece.e];
      piece = typeof given === "string" ? mbGivenClasses(given, keepMark) : "";
    }
    if (piece) out = out ? out + " " + piece : piece;
  }
  return out;
}

// The external class names of the component at `path` ([] when it cannot be loaded).
var MB_EXTERNAL_CLASSES = Object.create(null);
function mbExternalClassesOf(path) {
  var ext = MB_EXTERNAL_CLASSES[path];
  if (ext !== undefined) return ext;
  var def = null;
  try { def = MB.brokenDefs[path] ? null : mbCompileDef(mbLoadDef(path)); } catch (e) { def = null; }
  if (!def) return [];  // not kept: a module that threw loads again next time, as before
  return (MB_EXTERNAL_CLASSES[path] = def.externalClasses.slice());
}

function mbResolveExternalClasses(inst, vnodes) {
  if (!inst.__def.externalClasses.length && !inst.__scope) return vnodes;
  // the rows of a memoised wx:for (render_runtime.js `$ML` hint) other than those it re-rendered are
  // the vnodes of its previous use: when that use was resolved (`$rg` of the loop's memo, or of the
  // rows array that is kept from one use to the next), they need no look
  function walk(list) {
    var h = list.$h, i, by = h ? (h.sole ? list : h.E) : null;
    if (h && h.redo && by.$rg === h.gen - 1 && h.at + h.n <= list.length) {
      for (i = 0; i < h.at; i++) one(list[i]);
      for (i = 0; i < h.redo.length; i++) one(list[h.at + h.redo[i]]);
      for (i = h.at + h.n; i < list.length; i++) one(list[i]);
    } else {
      for (i = 0; i < list.length; i++) one(list[i]);
    }
    if (h) by.$rg = h.gen;
  }
  function one(v) {
    if (v.x !== undefined || v.$r === 1) return;  // a memoised row's vnodes are resolved already
    v.$r = 1;
    if (v.cls) v.cls = mbResolvedClass(inst, v.cls, false);
    var childPath = inst.__using[v.t];
    if (childPath && v.a) {
      // classes handed to a child's external classes are written in this component's scope
      var ext = mbExternalClassesOf(childPath);
      for (var j = 0; j < ext.length; j++) {
        if (typeof v.a[ext[j]] === "string") v.a[ext[j]] = mbResolvedClass(inst, v.a[ext[j]], true);
      }
    }
    if (v.c) walk(v.c);
  }
  walk(vnodes);
  return vnodes;
}

// Does setting `changed` trigger an observer on `watched`? WeChat: when `changed` is `watched` or one
// of its parents; a deeper change only for a `.**` (or `**`) observer.
function mbObserverHit(changed, watched, deep) {
  var n = Math.min(changed.length, watched.length);
  for (var i = 0; i < n; i++) if (String(changed[i]) !== watched[i]) return false;
  return changed.length <= watched.length || deep;
}

function mbRunObservers(inst, changedPaths) {
  inst.__def.observers.forEach(function (ob) {
    var hit = ob.fields.some(function (f) {
      return changedPaths.some(function (p) { return mbObserverHit(p, f.segs, f.deep); });
    });
    if (!hit) return;
    var args = ob.fields.map(function (f) { return f.segs.length ? mbGetPath(inst.data, f.segs) : inst.data; });
    mbGuard(inst, function () { ob.fn.apply(inst, args); });
  });
}

function mbCallPropObserver(inst, prop, value, old) {
  if (!prop.observer) return;
  var fn = typeof prop.observer === "string" ? inst[prop.observer] : prop.observer;
  if (typeof fn === "function") mbGuard(inst, function () { fn.call(inst, value, old); });
  else mbWarn('Component "' + inst.__path + '": property observer "' + prop.observer + '" is not a method');
}

function mbSetData(inst, patch, callback) {
  var props = inst.__def.properties;
  var olds = {}, same = {};
  if (mbIsPlainObject(patch)) Object.keys(props).forEach(function (name) {
    if (!(name in patch)) return;
    olds[name] = inst.data[name];
    // WeChat keeps the object it is given and compares with ===: handing back this.data.x (the
    // object minibox stored, a copy) is no change, so the observer does not fire (weui's slideview
    // sets its own `buttons` from the `buttons` observer)
    same[name] = patch[name] === olds[name];
  });
  var changed = mbApplySetData(inst.data, patch, inst.__path);
  // a property set through setData keeps its type; its observer fires when the value changed
  // (a sub-path change always fires it, with the new sub-value and no old value)
  var propCalls = [];
  changed.forEach(function (segs) {
    var prop = props[segs[0]];
    if (!prop) return;
    if (segs.length === 1) {
      var v = mbCoerce(prop, inst.data[segs[0]]);
      inst.data[segs[0]] = v;
      if (v !== olds[segs[0]] && !same[segs[0]]) propCalls.push([prop, v, olds[segs[0]]]);
    } else {
      propCalls.push([prop, mbGetPath(inst.data, segs), undefined]);
    }
  });
  mbRunObservers(inst, changed);
  if (inst.__mounted || inst.__isPage || inst.__rendered) mbRenderComponent(inst);
  propCalls.forEach(function (c) { mbCallPropObserver(inst, c[0], c[1], c[2]); });
  if (typeof callback === "function") MB.afterFlush.push(function () { mbGuard(inst, function () { callback.call(inst); }); });
}

function mbRenderData(inst) {
  var pure = inst.__def.options.pureDataPattern;
  if (!pure) return inst.data;
  var out = {};
  Object.keys(inst.data).forEach(function (k) { if (!pure.test(k)) out[k] = inst.data[k]; });
  return out;
}

function mbHasComponentTags(inst, vnodes) {
  for (var i = 0; i < vnodes.length; i++) {
    var v = vnodes[i];
    if (v.x !== undefined) continue;
    if (inst.__using[v.t] || (v.c && mbHasComponentTags(inst, v.c))) return true;
  }
  return false;
}

// A component's template for its current data, external classes resolved. The memo context lets
// compiled wx:for loops reuse the vnodes of rows whose data no setData touched since the last render
// (render_runtime.js `$ML`); a render that fails leaves no memo behind.
function mbRenderTemplate(inst, unresolved) {
  var data = mbRenderData(inst);
  // prev, next (the loops' memo, a Map) and occ are made by the first memoised loop (none: no memo)
  var mc = { data: data, root: inst.data, prev: inst.__memo || null, next: null, occ: null,
             since: mbTouchedSince, version: MB.dataVersion };
  inst.__memo = null;
  var vnodes = __mb.render(inst.__path, data, mc);
  inst.__memo = mc.next;
  return unresolved ? vnodes : mbResolveExternalClasses(inst, vnodes);
}

// Re-render a component's template (vnodes: an already computed render of its current data).
function mbRenderComponent(inst, vnodesIn) {
  if (!inst.__host || inst.__rendering || inst.__destroyed) return;
  // an unloaded page (its root left MB.nodes) keeps its data but renders nothing: a timer it did
  // not clear may still setData, which WeChat ignores (the view has no such nodes any more)
  if (inst.__isPage && MB.nodes.get(inst.__host.id) !== inst.__host) return;
  inst.__rendering = true;
  MB.renderDepth++;
  try {
    var vnodes = vnodesIn || inst.__errorVnodes || mbRenderTemplate(inst);
    inst.__roots = mbReconcile(inst, inst.__host, inst.__host.id, inst.__roots, vnodes);
    inst.__rendered = true;
    if (inst.__host.light !== undefined) mbRenderLight(inst.__host);
  } finally {
    inst.__rendering = false;
    MB.renderDepth--;
  }
  if (MB.renderDepth === 0 && mbTreeAttached(inst)) mbFlushAttach();
}

// The <slot> elements of a component's template, found in its current tree (a slot may sit in
// a child component's light DOM); the first one of each name wins.
function mbFindSlots(inst) {
  var slots = Object.create(null);
  (function walk(list) {
    for (var i = 0; i < list.length; i++) {
      var r = list[i];
      if (r.x !== undefined || r.owner !== inst) continue;
      if (r.t === "slot") {
        var name = r.a && r.a.name ? String(r.a.name) : "";
        if (!slots[name]) slots[name] = r;
      }
      if (r.comp) walk(r.lightNodes || []);
      else if (r.c) walk(r.c);
    }
  })(inst.__roots);
  return slots;
}

// Light DOM: the children a parent wrote inside a component tag, rendered with the parent's data
// into the component's <slot> elements.
function mbRenderLight(host) {
  var inst = host.comp;
  if (!inst) return;
  if (!(host.light && host.light.length) && !(host.lightNodes && host.lightNodes.length)) return;
  var slots = mbFindSlots(inst);
  // The component re-rendered its own template: when the owner gave it the same light children and
  // every slot is the same element, nothing moves (a row re-rendering as each of its n columns links
  // would otherwise re-reconcile all n columns every time: O(n^2)).
  if (host.lightDone === host.light && host.lightSlot) {
    var same = true;
    Object.keys(host.lightSlot).forEach(function (name) {
      var slot = slots[name] || null;
      if (host.lightSlot[name] !== (slot ? slot.id : null)) same = false;
    });
    if (same) return;
  }
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
  var moved = false;
  names.forEach(function (name) {
    var slot = slots[name] || null;
    var old = host.lightBy[name] || [];
    var parent = slot || host;
    var domParent = slot ? slot.id : null;
    var before = host.lightSlot[name];
    if (before !== (slot ? slot.id : null)) {
      // the slot element is another one: what we had went with the old one (or, if the old one is
      // still there, is taken out of it)
      var oldAlive = before !== null && before !== undefined && MB.nodes.has(before);
      old.forEach(function (n) { mbDestroyNode(n, oldAlive); });
      old = [];
      host.lightSlot[name] = slot ? slot.id : null;
      moved = true;
    }
    var list = mbReconcile(host.owner, parent, domParent, old, groups[name] || []);
    host.lightBy[name] = list;
    all = all.concat(list);
  });
  host.lightNodes = all;
  host.lightDone = host.light;
  // slots of the owner may have been among the re-created nodes (a component passing its own
  // <slot> into a child's slot): the owner's light DOM follows them
  var owner = host.owner;
  if (moved && owner && owner.__host && owner.__host.comp === owner && !owner.__rendering) mbRenderLight(owner.__host);
}
