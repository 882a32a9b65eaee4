// minibox framework, part 8: built-in component semantics shared by every view (switch, checkbox,
// radio, form, label, navigator, input, slider, picker, swiper ...).
// `mbBuiltinEvent(node, ev)` returns a result to stop normal dispatch, or null to let it run.
// The view only reports raw events (tap, input, change with the new value); WeChat's semantic
// events (switch change, checkbox-group change, form submit ...) are made here, so the headless
// view and the browser behave the same.
"use strict";

// Form fields: what a form's submit collects for a named descendant.
var MB_FORM_FIELDS = { input: 1, textarea: 1, "switch": 1, slider: 1, "checkbox-group": 1, "radio-group": 1, picker: 1, "picker-view": 1 };
// Controls a <label> forwards its tap to.
var MB_LABEL_TARGETS = { checkbox: 1, radio: 1, "switch": 1, button: 1 };
// Navigator open-types and the navigation they perform.
var MB_NAVIGATOR_TYPES = { navigate: "navigateTo", redirect: "redirectTo", switchTab: "switchTab", reLaunch: "reLaunch", navigateBack: "navigateBack" };

function mbTruthy(v) { return v === true || (v !== false && v !== undefined && v !== null && v !== "false" && v !== 0 && v !== "0"); }

// View state: what the user changed (a toggled switch, typed text) without the data changing. It
// holds until the bound attribute itself changes in a render (then the new data value wins), as
// WeChat's components keep their own state. `node.a` stays the last render's output, so the
// framework's diff never undoes what the user did.
function mbState(node, name) {
  var s = node.vs && node.vs[name];
  if (s && mbEqual(s.base, node.a[name])) return s.v;
  return node.a[name];
}

function mbSetState(node, name, value, toView) {
  var before = mbState(node, name);
  if (!node.vs) node.vs = {};
  node.vs[name] = { v: value, base: node.a[name] };
  if (toView && !mbEqual(before, value)) mbOp(["attr", node.id, name, value]);
}

function mbSetAttr(node, name, value) { mbSetState(node, name, value, true); }

// Children in the composed (view) tree: element children, a component's shadow roots, light nodes.
function mbComposedChildren(r) {
  var out = [];
  if (r.c) out = out.concat(r.c);
  if (r.comp && r.comp.__roots) out = out.concat(r.comp.__roots);
  return out;
}

function mbDescendants(root, pred, stopAt) {
  var out = [], seen = new Set();
  (function walk(r) {
    var kids = mbComposedChildren(r);
    for (var i = 0; i < kids.length; i++) {
      var k = kids[i];
      if (seen.has(k) || k.x !== undefined) continue;
      seen.add(k);
      if (pred(k)) out.push(k);
      if (!stopAt || !stopAt(k)) walk(k);
    }
  })(root);
  return out;
}

function mbAncestor(node, tag) {
  var p = node.parent;
  while (p) { if (p.t === tag) return p; p = p.parent; }
  return null;
}

function mbSemantic(node, type, detail, ev) {
  mbModelWriteBack(node, { type: type, detail: detail });
  return mbDispatch(node, type, detail, {
    bubbles: false, composed: true, capturePhase: false, timeStamp: ev.timeStamp || 0,
  });
}

// The normal dispatch of a raw view event (what mbViewEvent does when no built-in claims it).
function mbRawDispatch(node, ev) {
  mbModelWriteBack(node, ev);
  var result = mbDispatch(node, ev.type, ev.detail, {
    bubbles: !!MB_VIEW_CAPTURE[ev.type], composed: true, capturePhase: true,
    touches: ev.touches, changedTouches: ev.changedTouches, timeStamp: ev.timeStamp || 0,
  });
  return typeof result === "string" || typeof result === "number" ? result : (result && result.value !== undefined ? result.value : undefined);
}

function mbFieldValue(r) {
  switch (r.t) {
    case "input": case "textarea": { var tv = mbState(r, "value"); return tv === undefined || tv === null ? "" : String(tv); }
    case "switch": return mbTruthy(mbState(r, "checked"));
    case "slider": return Number(mbState(r, "value") || r.a.min || 0);
    case "checkbox-group":
      return mbDescendants(r, function (k) { return k.t === "checkbox" && mbTruthy(mbState(k, "checked")); })
        .map(function (k) { return k.a.value === undefined ? "" : String(k.a.value); });
    case "radio-group": {
      var on = mbDescendants(r, function (k) { return k.t === "radio" && mbTruthy(mbState(k, "checked")); });
      return on.length ? (on[0].a.value === undefined ? "" : String(on[0].a.value)) : "";
    }
    case "picker": {
      var v = mbState(r, "value");
      var mode = r.a.mode || "selector";
      if (v === undefined || v === null) return mode === "selector" ? 0 : (mode === "multiSelector" || mode === "region" ? [] : "");
      return mbClone(v);
    }
    case "picker-view": return mbClone(mbState(r, "value") || []);
    default: return undefined;
  }
}

function mbFormSubmit(form, ev) {
  var value = {};
  mbDescendants(form, function (k) { return (MB_FORM_FIELDS[k.t] && k.a.name !== undefined && k.a.name !== "") || !!mbFormFieldOf(k); },
    function (k) { return k.t === "form" || !!mbFormFieldOf(k); })
    .forEach(function (k) {
      var custom = mbFormFieldOf(k);  // a component with behaviors: ['wx://form-field'] (03_component.js)
      if (custom) { if (custom.name !== "") value[custom.name] = custom.value; }
      else value[String(k.a.name)] = mbFieldValue(k);
    });
  return mbSemantic(form, "submit", { value: value }, ev);
}

function mbFormReset(form, ev) {
  mbDescendants(form, function (k) { return !!MB_FORM_FIELDS[k.t] || k.t === "checkbox" || k.t === "radio"; },
    function (k) { return k.t === "form"; })
    .forEach(function (k) {
      if (k.t === "input" || k.t === "textarea") mbSetAttr(k, "value", "");
      else if (k.t === "switch" || k.t === "checkbox" || k.t === "radio") mbSetAttr(k, "checked", false);
      else if (k.t === "slider") mbSetAttr(k, "value", Number(k.a.min || 0));
    });
  return mbSemantic(form, "reset", {}, ev);
}

function mbNavigatorTap(node, ev) {
  var type = node.a["open-type"] || "navigate";
  if (type === "exit") return null;
  var api = MB_NAVIGATOR_TYPES[type];
  if (!api) { mbWarn('navigator: unsupported open-type "' + type + '"'); return null; }
  var url = node.a.url === undefined ? "" : String(node.a.url);
  if (api !== "navigateBack") {
    if (!url || /^[a-z][a-z0-9+.\-]*:/i.test(url) || url.indexOf("//") === 0) {
      mbEmit({ t: "error", message: 'navigator: refused url "' + url + '": only pages of this mini-program can be opened', stack: "" });
      return null;
    }
    var r = MB_NAV[api]({ url: url });
    if (r && r.errMsg && r.errMsg.indexOf(":ok") < 0) mbEmit({ t: "error", message: "navigator: " + r.errMsg, stack: "" });
    return r;
  }
  return MB_NAV.navigateBack({ delta: parseInt(node.a.delta || 1, 10) || 1 });
}

// The semantic action of a tap on a control (also reached through a <label>).
function mbControlTap(node, ev) {
  if (mbTruthy(node.a.disabled)) return;
  switch (node.t) {
    case "switch": {
      var on = !mbTruthy(mbState(node, "checked"));
      mbSetAttr(node, "checked", on);
      mbSemantic(node, "change", { value: on }, ev);
      return;
    }
    case "checkbox": {
      mbSetAttr(node, "checked", !mbTruthy(mbState(node, "checked")));
      var group = mbAncestor(node, "checkbox-group");
      if (group) mbSemantic(group, "change", { value: mbFieldValue(group) }, ev);
      return;
    }
    case "radio": {
      if (mbTruthy(mbState(node, "checked"))) return;
      var rgroup = mbAncestor(node, "radio-group");
      if (rgroup) mbDescendants(rgroup, function (k) { return k.t === "radio" && k !== node; }).forEach(function (k) { mbSetAttr(k, "checked", false); });
      mbSetAttr(node, "checked", true);
      if (rgroup) mbSemantic(rgroup, "change", { value: mbFieldValue(rgroup) }, ev);
      return;
    }
    case "button": {
      if (node.a["open-type"]) mbButtonOpenType(node, String(node.a["open-type"]), ev);
      var formType = node.a["form-type"];
      var form = formType ? mbAncestor(node, "form") : null;
      if (form && formType === "submit") mbFormSubmit(form, ev);
      else if (form && formType === "reset") mbFormReset(form, ev);
      return;
    }
    case "navigator": mbNavigatorTap(node, ev); return;
    default: return;
  }
}

// Button open-types. Capabilities that need the host's consent (phone number, user info, avatar)
// are not granted to a button here: the event reports a failure, the safe default.
var MB_BUTTON_DENIED = { getPhoneNumber: "getphonenumber", getRealtimePhoneNumber: "getrealtimephonenumber",
  getUserInfo: "getuserinfo", chooseAvatar: "chooseavatar", launchApp: "error", contact: "contact" };
function mbButtonOpenType(node, type, ev) {
  if (type === "share") {
    var page = MB.pages[MB.pages.length - 1];
    var content = mbPageEvent({ type: "shareAppMessage", from: "button", target: mbNodeInfo(node) });
    mbEmit({ t: "view", api: "share", page: page ? page.__pageId : 0, content: mbEncode(content) });
    return;
  }
  if (type === "openSetting" && globalThis.wx && typeof wx.openSetting === "function") {
    wx.openSetting({ complete: function (res) { mbSemantic(node, "opensetting", res, ev); } });
    return;
  }
  if (type === "feedback") { mbEmit({ t: "view", api: "feedback", page: mbCurrentPageId() }); return; }
  if (type === "getPhoneNumber" && (MB.config.apis || []).some(function (a) { return a.name === "button.getPhoneNumber"; })) {
    // the host asks the user and hands out a one-time code; the app's server redeems it for the
    // number in the form the app is granted (real, masked or a relay number)
    mbAsyncApi("button.getPhoneNumber")({ complete: function (res) {
      var out = mbClone(res || {});
      out.errMsg = String(out.errMsg || "").replace(/^button\.getPhoneNumber/, "getPhoneNumber");
      mbSemantic(node, "getphonenumber", out, ev);
    } });
    return;
  }
  var evName = MB_BUTTON_DENIED[type];
  if (evName) mbSemantic(node, evName, { errMsg: type + ":fail no permission" }, ev);
  else mbWarn('button: unsupported open-type "' + type + '"');
}

function mbLabelTarget(label) {
  var forId = label.a["for"];
  if (forId !== undefined && forId !== "") {
    var page = label;
    while (page.parent) page = page.parent;
    var hits = mbDescendants(page, function (k) { return MB_LABEL_TARGETS[k.t] && String(k.a.id) === String(forId); });
    return hits[0] || null;
  }
  return mbDescendants(label, function (k) { return !!MB_LABEL_TARGETS[k.t]; })[0] || null;
}

// The control a tap lands on: the origin or its nearest control ancestor (a tap on a checkbox's
// text is a tap on the checkbox).
function mbTappedControl(node) {
  var n = node;
  while (n) {
    if (n.t === "switch" || n.t === "checkbox" || n.t === "radio" || n.t === "button" || n.t === "navigator" || n.t === "label") return n;
    n = n.parent;
  }
  return null;
}

function mbBuiltinEvent(node, ev) {
  var t = node.t;
  if (ev.type === "tap") {
    var control = mbTappedControl(node);
    if (!control) return null;
    if ((control.t === "button") && mbTruthy(control.a.disabled)) return { dispatched: false };
    var value = mbRawDispatch(node, ev);
    if (control.t === "label") {
      var target = mbLabelTarget(control);
      if (target && target !== control) mbControlTap(target, ev);
    } else {
      mbControlTap(control, ev);
    }
    return { dispatched: true, value: value };
  }
  if ((t === "input" || t === "textarea") && (ev.type === "input" || ev.type === "blur" || ev.type === "confirm")) {
    var detail = ev.detail || {};
    // only `input` changes the value: blur and confirm carry what was shown when they were sent
    if (ev.type === "input" && detail.value !== undefined) mbSetState(node, "value", String(detail.value), false);
    var replaced = mbRawDispatch(node, ev);
    if (ev.type === "input" && replaced !== undefined) mbSetState(node, "value", String(replaced), true);
    return { dispatched: true, value: replaced };
  }
  if (ev.type === "change" || ev.type === "changing") {
    var d = ev.detail || {};
    if (ev.type === "change") {
      if ((t === "slider" || t === "picker" || t === "picker-view") && d.value !== undefined) mbSetState(node, "value", mbClone(d.value), false);
      else if (t === "swiper" && d.current !== undefined) mbSetState(node, "current", d.current, false);
    }
    return null;
  }
  return null;
}
