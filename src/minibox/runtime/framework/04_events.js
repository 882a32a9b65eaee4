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
  var bubbles = !!MB_VIEW_CAPTURE[ev.type];
  var result = mbDispatch(node, ev.type, ev.detail, {
    bubbles: bubbles, composed: true, capturePhase: true,
    touches: ev.touches, changedTouches: ev.changedTouches, timeStamp: ev.timeStamp || 0,
  });
  return { dispatched: true, value: typeof result === "string" || typeof result === "number" ? result : (result && result.value !== undefined ? result.value : undefined) };
}

// ---- relations ----
function mbRelPath(inst, key) {
  return key.charAt(0) === "/" ? mbNormalize(key) : mbNormalize(mbDirname(inst.__path) + "/" + key);
}

var MB_REL_PAIR = { parent: "child", child: "parent", ancestor: "descendant", descendant: "ancestor" };

function mbFindRelation(inst, targetPath, type) {
  var rels = inst.__def.relations;
  var keys = Object.keys(rels);
  for (var i = 0; i < keys.length; i++) {
    var rel = rels[keys[i]];
    if (rel.type === type && mbRelPath(inst, keys[i]) === targetPath) return { key: keys[i], rel: rel };
  }
  return null;
}

function mbLinkRelations(inst) {
  var rels = inst.__def.relations;
  Object.keys(rels).forEach(function (key) {
    var rel = rels[key];
    if (rel.type !== "parent" && rel.type !== "ancestor") return;
    var target = mbRelPath(inst, key);
    var node = inst.__host ? inst.__host.parent : null;
    while (node) {
      var other = node.comp;
      if (other && other !== inst && other.__mounted !== false) {
        if (other.__path === target) {
          var back = mbFindRelation(other, inst.__path, MB_REL_PAIR[rel.type]);
          if (back) {
            var link = { upper: other, lower: inst, upperKey: back.key, lowerKey: key };
            other.__relations.push(link);
            inst.__relations.push(link);
            if (typeof back.rel.linked === "function") mbGuard(other, function () { back.rel.linked.call(other, inst); });
            if (typeof rel.linked === "function") mbGuard(inst, function () { rel.linked.call(inst, other); });
          }
          break;
        }
        if (rel.type === "parent") break;
      }
      node = node.parent;
    }
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

function mbRelationNodes(inst, key) {
  return inst.__relations.filter(function (l) {
    return (l.upper === inst && l.upperKey === key) || (l.lower === inst && l.lowerKey === key);
  }).map(function (l) { return l.upper === inst ? l.lower : l.upper; });
}

// ---- selectors over a component's own tree: "#id", ".cls", "tag", "tag.cls#id", "a, b" ----
function mbParseSimpleSelector(sel) {
  var m = { tag: null, id: null, classes: [] };
  var re = /([#.]?)([A-Za-z0-9_\-]+)/g, x;
  while ((x = re.exec(sel))) {
    if (x[1] === "#") m.id = x[2];
    else if (x[1] === ".") m.classes.push(x[2]);
    else m.tag = x[2];
  }
  return m;
}

function mbMatches(r, m) {
  if (r.x !== undefined) return false;
  if (m.tag && r.t !== m.tag) return false;
  if (m.id && String(r.a.id) !== m.id) return false;
  if (m.classes.length) {
    var cls = (r.cls || "").split(/\s+/);
    for (var i = 0; i < m.classes.length; i++) if (cls.indexOf(m.classes[i]) < 0) return false;
  }
  return true;
}

function mbSelectComponents(inst, selector, firstOnly) {
  var sels = String(selector).split(",").map(function (s) { return mbParseSimpleSelector(s.trim()); });
  var out = [];
  function walk(list) {
    for (var i = 0; i < list.length; i++) {
      var r = list[i];
      if (r.comp && sels.some(function (m) { return mbMatches(r, m); })) {
        out.push(r.comp);
        if (firstOnly) return true;
      }
      if (r.c && walk(r.c)) return true;
      if (r.lightNodes && walk(r.lightNodes)) return true;
    }
    return false;
  }
  walk(inst.__roots);
  return out;
}
