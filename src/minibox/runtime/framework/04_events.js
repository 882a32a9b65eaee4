// minibox framework, part 4: events (bubbling, capture, catch, mut-bind), relations, selectors, errors.
"use strict";

function mbReportError(e) {
  var message = e && e.message ? e.message : String(e);
  var stack = e && e.stack ? String(e.stack) : "";
  mbEmit({ t: "error", message: message, stack: stack });
  var app = MB.app;
  if (app && typeof app.onError === "function" && !MB.inOnError) {
    MB.inOnError = true;
    try { app.onError(message + (stack ? "\n" + stack : "")); } catch (e2) { /* onError itself failed */ }
    finally { MB.inOnError = false; }
  }
}

// A promise the framework got back from the mini-program's code (an async lifecycle or handler) was
// rejected and nobody else will handle it: WeChat's unhandled rejection (App.onUnhandledRejection,
// wx.onUnhandledRejection, the console, telemetry).
function mbReportRejection(reason) {
  var message = reason && reason.message ? reason.message : String(reason);
  var stack = reason && reason.stack ? String(reason.stack) : "";
  mbEmit({ t: "error", kind: "rejection", message: "Unhandled promise rejection: " + message, stack: stack });
  var app = MB.app;
  var listeners = (MB.rejectionListeners || []).slice();
  if (app && typeof app.onUnhandledRejection === "function") listeners.unshift(app.onUnhandledRejection.bind(app));
  listeners.forEach(function (fn) {
    try { fn({ reason: reason, promise: null }); } catch (e2) { /* the listener itself failed */ }
  });
}

// The value user code returned: a thenable gets a rejection handler (it is the framework's to watch).
function mbWatchPromise(value) {
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    var then;
    try { then = value.then; } catch (e) { return value; }
    if (typeof then === "function") {
      try { then.call(value, undefined, mbReportRejection); } catch (e) { /* not a real promise */ }
    }
  }
  return value;
}

function mbNodeInfo(r) {
  return { id: r.a && r.a.id !== undefined ? String(r.a.id) : "", dataset: mbClone(r.ds || {}), offsetLeft: 0, offsetTop: 0 };
}

// The event path: from the origin up through DOM parents (composed tree), to the page root.
function mbEventPath(origin, composed) {
  var path = [];
  var node = origin;
  var scope = origin.owner;
  while (node) {
    path.push(node);
    var next = node.parent;
    if (!composed && next && next.comp && next.comp === scope) break;  // stop at the shadow root
    if (!next) {
      break;
    }
    node = next;
  }
  return path;
}

// For a handler owned by `owner`, the target it sees: origin retargeted to owner's tree.
function mbRetarget(origin, owner) {
  var node = origin;
  while (node) {
    if (node.owner === owner) return node;
    node = node.parent;
  }
  return origin;
}

function mbCollectMarks(path) {
  var mark = {};
  for (var i = path.length - 1; i >= 0; i--) {
    var mk = path[i].mk;
    if (mk) Object.keys(mk).forEach(function (k) { mark[k] = mk[k]; });
  }
  return mark;
}

function mbInvokeHandler(node, binding, base, origin) {
  var owner = node.owner;
  if (!owner) return undefined;
  var handler = binding.handler;
  if (handler === "") return undefined;  // catchtap="" stops the event and calls nothing, silently (WeChat)
  var fn = typeof handler === "function" ? handler : owner[handler];
  if (typeof fn !== "function") {
    mbWarn('Component "' + owner.__path + '" does not have a method "' + handler + '" to handle event "' + base.type + '".');
    return undefined;
  }
  var target = mbRetarget(origin, owner);
  var event = {
    type: base.type, timeStamp: base.timeStamp, detail: base.detail,
    target: mbNodeInfo(target), currentTarget: mbNodeInfo(node),
    mark: base.mark, touches: base.touches, changedTouches: base.changedTouches,
    mut: binding.mode === "mut-bind",
  };
  return mbGuard(owner, function () { return fn.call(owner, event); });
}

// Dispatch one event; returns the last handler's return value (bindinput may return a new value).
function mbDispatch(origin, type, detail, opts) {
  var bubbles = opts.bubbles !== false;
  var composed = opts.composed !== false;
  var path = bubbles ? mbEventPath(origin, composed) : [origin];
  var base = {
    type: type, timeStamp: opts.timeStamp || 0, detail: detail === undefined ? {} : detail,
    touches: opts.touches || [], changedTouches: opts.changedTouches || [], mark: mbCollectMarks(path),
  };
  var result;
  if (opts.capturePhase) {
    for (var i = path.length - 1; i >= 0; i--) {
      var cap = (path[i].ev || []).filter(function (b) { return b.type === type && b.mode.indexOf("capture-") === 0; });
      for (var j = 0; j < cap.length; j++) {
        result = mbInvokeHandler(path[i], cap[j], base, origin);
        if (cap[j].mode === "capture-catch") return result;
      }
    }
  }
  var mutDone = false;
  for (var n = 0; n < path.length; n++) {
    var bindings = (path[n].ev || []).filter(function (b) { return b.type === type && b.mode.indexOf("capture-") !== 0; });
    var stop = false;
    for (var m = 0; m < bindings.length; m++) {
      var b = bindings[m];
      if (b.mode === "mut-bind") { if (mutDone) continue; mutDone = true; }
      result = mbInvokeHandler(path[n], b, base, origin);
      if (b.mode === "catch") stop = true;
    }
    if (stop) break;
  }
  return result;
}

function mbTriggerEvent(inst, name, detail, options) {
  if (!inst.__host) return;
  mbDispatch(inst.__host, name, detail, {
    bubbles: !!options.bubbles, composed: !!options.composed, capturePhase: !!options.capturePhase,
    timeStamp: Date.now() - MB.startTime,
  });
}

// model:prop="{{path}}" two-way binding: the view's new value goes back into the owner's data.
function mbModelWriteBack(node, ev) {
  if (!node.md || !node.owner || (ev.type !== "input" && ev.type !== "change")) return;
  var detail = ev.detail || {};
  var patch = {}, any = false;
  Object.keys(node.md).forEach(function (prop) {
    var value = prop in detail ? detail[prop] : (prop === "checked" && "value" in detail ? detail.value : undefined);
    if (value === undefined) return;
    patch[node.md[prop]] = value;
    node.a[prop] = value;
    any = true;
  });
  if (any) mbGuard(node.owner, function () { node.owner.setData(patch); });
}

// Events from the view: {node, type, detail, touches, changedTouches, timeStamp}
var MB_VIEW_CAPTURE = { tap: 1, longpress: 1, longtap: 1, touchstart: 1, touchmove: 1, touchend: 1, touchcancel: 1 };
function mbViewEvent(ev) {
  var node = MB.nodes.get(ev.node);
  if (!node) return { dispatched: false };
  // built-in components (08_builtins.js) may turn a raw view event into WeChat's semantic events
  if (typeof mbBuiltinEvent === "function") {
    var handled = mbBuiltinEvent(node, ev);
    if (handled) return handled;
  }
  mbModelWriteBack(node, ev);
  var bubbles = !!MB_VIEW_CAPTURE[ev.type];
  var result = mbDispatch(node, ev.type, ev.detail, {
    bubbles: bubbles, composed: true, capturePhase: true,
    touches: ev.touches, changedTouches: ev.changedTouches, timeStamp: ev.timeStamp || 0,
  });
  return { dispatched: true, value: typeof result === "string" || typeof result === "number" ? result : (result && result.value !== undefined ? result.value : undefined) };
}

// ---- relations ----
// A relation key is a component path (relative to the declaring component) or, with `target`, a
// behavior. The lower side (child/descendant) looks for its partner walking up its logical tree:
// the tree its owner's template wrote (light DOM), never crossing into another component's shadow.
function mbRelPath(inst, key) {
  return key.charAt(0) === "/" ? mbNormalize(key) : mbNormalize(mbDirname(inst.__path) + "/" + key);
}

var MB_REL_PAIR = {
  parent: "child", child: "parent", ancestor: "descendant", descendant: "ancestor",
  "parent-common-node": "child-common-node", "child-common-node": "parent-common-node",
};
// The lower-side types: "parent" links to the nearest component up the tree, "parent-common-node"
// only to the immediate parent node, "ancestor" to the nearest matching component.
var MB_REL_UPWARD = { parent: 1, ancestor: 1, "parent-common-node": 1 };

function mbRelMatches(inst, key, rel, other) {
  if (rel.target) return other.__def.behaviors.indexOf(rel.target) >= 0 || other.__def.selfBehavior === rel.target;
  return other.__path === mbRelPath(inst, key);
}

function mbFindRelation(inst, other, type) {
  var rels = inst.__def.relations;
  var keys = Object.keys(rels);
  for (var i = 0; i < keys.length; i++) {
    var rel = rels[keys[i]];
    if (rel.type === type && mbRelMatches(inst, keys[i], rel, other)) return { key: keys[i], rel: rel };
  }
  return null;
}

// The logical parent of a rendered node: skips slots and shadow trees of other components.
function mbLogicalParent(node) {
  var owner = node.owner;
  var boundary = owner ? owner.__host : null;
  var p = node.parent;
  while (p && p.owner !== owner && p !== boundary) p = p.parent;
  return p === boundary ? null : p;
}

function mbLinkRelations(inst) {
  var rels = inst.__def.relations;
  Object.keys(rels).forEach(function (key) {
    var rel = rels[key];
    if (!MB_REL_UPWARD[rel.type]) return;
    var node = inst.__host ? mbLogicalParent(inst.__host) : null;
    var linked = false;
    while (node) {
      var other = node.comp;
      if (other && other.__mounted) {
        if (mbRelMatches(inst, key, rel, other)) {
          var back = mbFindRelation(other, inst, MB_REL_PAIR[rel.type]);
          if (back) {
            var link = { upper: other, lower: inst, upperKey: back.key, lowerKey: key };
            other.__relations.push(link);
            inst.__relations.push(link);
            if (typeof back.rel.linked === "function") mbGuard(other, function () { back.rel.linked.call(other, inst); });
            if (typeof rel.linked === "function") mbGuard(inst, function () { rel.linked.call(inst, other); });
            linked = true;
            break;
          }
        }
        if (rel.type === "parent") break;
      }
      if (rel.type === "parent-common-node") break;
      node = mbLogicalParent(node);
    }
    if (!linked && typeof rel.linkFailed === "function") mbGuard(inst, function () { rel.linkFailed.call(inst); });
  });
}

function mbUnlinkRelations(inst) {
  inst.__relations.slice().forEach(function (link) {
    var other = link.upper === inst ? link.lower : link.upper;
    other.__relations = other.__relations.filter(function (l) { return l !== link; });
    inst.__relations = inst.__relations.filter(function (l) { return l !== link; });
    var upperRel = link.upper.__def.relations[link.upperKey];
    var lowerRel = link.lower.__def.relations[link.lowerKey];
    if (upperRel && typeof upperRel.unlinked === "function") mbGuard(link.upper, function () { upperRel.unlinked.call(link.upper, link.lower); });
    if (lowerRel && typeof lowerRel.unlinked === "function") mbGuard(link.lower, function () { lowerRel.unlinked.call(link.lower, link.upper); });
  });
}

// A moved component keeps its links: linkChanged on both sides.
function mbRelinkMoved(inst) {
  inst.__relations.forEach(function (link) {
    if (link.lower !== inst) return;
    var upperRel = link.upper.__def.relations[link.upperKey];
    var lowerRel = link.lower.__def.relations[link.lowerKey];
    if (upperRel && typeof upperRel.linkChanged === "function") mbGuard(link.upper, function () { upperRel.linkChanged.call(link.upper, inst); });
    if (lowerRel && typeof lowerRel.linkChanged === "function") mbGuard(inst, function () { lowerRel.linkChanged.call(inst, link.upper); });
  });
}

// Linked partners for one relation key; children come in tree order.
function mbRelationNodes(inst, key) {
  var links = inst.__relations.filter(function (l) {
    return (l.upper === inst && l.upperKey === key) || (l.lower === inst && l.lowerKey === key);
  });
  var others = links.map(function (l) { return l.upper === inst ? l.lower : l.upper; });
  if (others.length < 2 || !inst.__host) return others;
  var order = new Map();
  var n = 0;
  (function walk(list) {
    for (var i = 0; i < list.length; i++) {
      var r = list[i];
      if (r.comp) order.set(r.comp, n++);
      if (r.c) walk(r.c);
      if (r.lightNodes) walk(r.lightNodes);
    }
  })(inst.__host.lightNodes || []);
  return others.sort(function (a, b) { return (order.has(a) ? order.get(a) : n) - (order.has(b) ? order.get(b) : n); });
}

// ---- selectComponent: the selector engine of 09_query.js ("#id", ".cls", "tag", compounds, "a b",
// "a > b", "a >>> b" into other components, "a, b"), keeping the component hosts ----
function mbSelectComponents(inst, selector, firstOnly) {
  var out = [];
  mbQuerySelect(inst, selector, true).forEach(function (r) { if (r.comp && !r.comp.__destroyed) out.push(r.comp); });
  return firstOnly ? out.slice(0, 1) : out;
}
