// minibox framework, part 6: the `wx` shim, timers and console. Every privileged call goes to the
// host, which re-checks it; this file only adapts WeChat's calling conventions.
"use strict";
var MB_MAX_TIMERS = 10000;
var MB_MIN_INTERVAL = 4;  // ms, as browsers clamp repeating timers

MB.timers = new Map();
MB.nextTimerId = 1;
MB.tickets = new Map();   // pending async host calls: ticket -> {api, resolve}
MB.startTime = 0;

// ---- timers: the host owns the clock and fires due timers with "tick" ----
function mbAddTimer(fn, delay, args, repeat) {
  if (typeof fn !== "function") throw new TypeError("setTimeout/setInterval expects a function");
  if (MB.timers.size >= MB_MAX_TIMERS) throw new RangeError("too many timers (limit " + MB_MAX_TIMERS + ")");
  var d = Math.max(0, Number(delay) || 0);
  var id = MB.nextTimerId++;
  MB.timers.set(id, { due: MB.now + d, fn: fn, args: args, interval: repeat ? Math.max(MB_MIN_INTERVAL, d) : 0, seq: id });
  return id;
}

globalThis.setTimeout = function (fn, delay) { return mbAddTimer(fn, delay, Array.prototype.slice.call(arguments, 2), false); };
globalThis.setInterval = function (fn, delay) { return mbAddTimer(fn, delay, Array.prototype.slice.call(arguments, 2), true); };
globalThis.clearTimeout = function (id) { MB.timers.delete(id); };
globalThis.clearInterval = function (id) { MB.timers.delete(id); };

function mbNextTimer() {
  var best = null;
  MB.timers.forEach(function (t) { if (best === null || t.due < best) best = t.due; });
  return best;
}

function mbRunTimers() {
  var due = [];
  MB.timers.forEach(function (t, id) { if (t.due <= MB.now) due.push([id, t]); });
  due.sort(function (a, b) { return a[1].due - b[1].due || a[1].seq - b[1].seq; });
  due.forEach(function (pair) {
    var id = pair[0], t = pair[1];
    if (!MB.timers.has(id)) return;
    if (t.interval) t.due = MB.now + t.interval; else MB.timers.delete(id);
    mbGuard(null, function () { t.fn.apply(null, t.args); });
  });
  return due.length;
}

// ---- console ----
function mbFormatArg(v) {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.stack ? v.message + "\n" + v.stack : String(v);
  try { var s = mbStringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
}
globalThis.console = {};
["log", "info", "warn", "error", "debug"].forEach(function (level) {
  globalThis.console[level] = function () {
    mbEmit({ t: "log", level: level, args: Array.prototype.map.call(arguments, mbFormatArg) });
  };
});

// ---- values that cross the bridge: Date is tagged, functions dropped ----
var MB_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function mbToBase64(buf) {
  var bytes = new Uint8Array(buf), out = "", i;
  for (i = 0; i + 2 < bytes.length; i += 3) {
    var n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += MB_B64[n >> 18] + MB_B64[(n >> 12) & 63] + MB_B64[(n >> 6) & 63] + MB_B64[n & 63];
  }
  var rest = bytes.length - i;
  if (rest === 1) { var a = bytes[i] << 16; out += MB_B64[a >> 18] + MB_B64[(a >> 12) & 63] + "=="; }
  else if (rest === 2) { var b = (bytes[i] << 16) | (bytes[i + 1] << 8); out += MB_B64[b >> 18] + MB_B64[(b >> 12) & 63] + MB_B64[(b >> 6) & 63] + "="; }
  return out;
}
function mbFromBase64(text) {
  var clean = String(text).replace(/[^A-Za-z0-9+/]/g, "");
  var bytes = new Uint8Array(Math.floor(clean.length * 3 / 4));
  var j = 0;
  for (var i = 0; i < clean.length; i += 4) {
    var n = (MB_B64.indexOf(clean[i]) << 18) | (MB_B64.indexOf(clean[i + 1]) << 12) |
      ((i + 2 < clean.length ? MB_B64.indexOf(clean[i + 2]) : 0) << 6) | (i + 3 < clean.length ? MB_B64.indexOf(clean[i + 3]) : 0);
    bytes[j++] = (n >> 16) & 255;
    if (i + 2 < clean.length) bytes[j++] = (n >> 8) & 255;
    if (i + 3 < clean.length) bytes[j++] = n & 255;
  }
  return bytes.buffer.slice(0, j);
}

// A snapshot of a value for the bridge: plain JSON-able data, every property read once (a getter
// runs once, here, in the sandbox's budget), within the bridge's size and nesting limits. The
// host checks again before parsing; this is what gives the mini-program a catchable `fail`.
var MB_BRIDGE = globalThis.__mbBridgeLimits || { maxChars: 16 * 1024 * 1024, maxDepth: 300 };
var mbKeys = Object.keys, mbIsArray = Array.isArray, mbIsView = ArrayBuffer.isView;
function MbBridgeError(why) { var e = new Error(why); Object.setPrototypeOf(e, MbBridgeError.prototype); return e; }
MbBridgeError.prototype = Object.create(Error.prototype);
MbBridgeError.prototype.name = "MbBridgeError";

function mbEncodeIn(v, st, depth) {
  var t = typeof v;
  if (t === "string") {
    st.chars += v.length + 2;
    if (st.chars > MB_BRIDGE.maxChars) throw new MbBridgeError("parameter error: data exceeds the bridge limit of " + MB_BRIDGE.maxChars + " characters");
    return v;
  }
  if (v === null || t !== "object") return t === "function" || t === "symbol" ? undefined : v;
  // {"api": ..., "args": {...}} takes two levels of the message's nesting
  if (depth > MB_BRIDGE.maxDepth - 2) throw new MbBridgeError("parameter error: data nested deeper than " + (MB_BRIDGE.maxDepth - 2) + " levels (or circular)");
  if (v instanceof Date) return { __mbType: "Date", value: v.getTime() };
  var buf = null;
  if (v instanceof ArrayBuffer) buf = v;
  else if (mbIsView(v)) buf = v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
  if (buf !== null) {
    st.chars += Math.ceil(buf.byteLength / 3) * 4 + 32;
    if (st.chars > MB_BRIDGE.maxChars) throw new MbBridgeError("parameter error: data exceeds the bridge limit of " + MB_BRIDGE.maxChars + " characters");
    return { __type: "ArrayBuffer", base64: mbToBase64(buf) };
  }
  var i, out;
  if (mbIsArray(v)) {
    var n = v.length;
    out = [];
    for (i = 0; i < n; i++) { var item = mbEncodeIn(v[i], st, depth + 1); out[i] = item === undefined ? null : item; }
    st.chars += n + 2;
    return out;
  }
  out = {};
  var keys = mbKeys(v);
  for (i = 0; i < keys.length; i++) {
    var k = keys[i], x = mbEncodeIn(v[k], st, depth + 1);
    if (x !== undefined) { out[k] = x; st.chars += k.length + 4; }
  }
  return out;
}
function mbEncode(v, st) { return mbEncodeIn(v, st || { chars: 0 }, 1); }

// Build a call's arguments, then call the host; a bridge limit becomes the API's own `fail`.
function mbCallHost(api, build) {
  var args;
  try { args = build(); } catch (e) {
    if (e instanceof MbBridgeError) return { err: { errMsg: api.slice(api.lastIndexOf(".") + 1) + ":fail " + e.message } };
    throw e;
  }
  return mbHostCall(api, args);
}
function mbDecode(v) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(mbDecode);
  if (v.__mbType === "Date" && Object.keys(v).length === 2) return new Date(v.value);
  if (v.__type === "ArrayBuffer" && typeof v.base64 === "string" && Object.keys(v).length === 2) return mbFromBase64(v.base64);
  var out = {};
  Object.keys(v).forEach(function (k) { out[k] = mbDecode(v[k]); });
  return out;
}

function mbArgs(opts) {
  var out = {}, st = { chars: 0 };
  if (opts && typeof opts === "object") {
    var keys = mbKeys(opts);
    for (var i = 0; i < keys.length; i++) {
      var v = opts[keys[i]];  // read once: the value encoded is the value checked
      if (typeof v !== "function") { var x = mbEncodeIn(v, st, 2); if (x !== undefined) out[keys[i]] = x; }
    }
  }
  return out;
}

// Deliver a result in WeChat's style: callbacks if any were given, otherwise a Promise.
function mbFinish(api, opts, promiseCtl, res, failed) {
  var run = function () {
    if (failed) {
      if (opts && typeof opts.fail === "function") mbGuard(null, function () { opts.fail(res); });
    } else if (opts && typeof opts.success === "function") mbGuard(null, function () { opts.success(res); });
    if (opts && typeof opts.complete === "function") mbGuard(null, function () { opts.complete(res); });
    if (promiseCtl) (failed ? promiseCtl.reject : promiseCtl.resolve)(res);
  };
  Promise.resolve().then(run);
}

function mbWantsPromise(opts) {
  return !opts || (typeof opts.success !== "function" && typeof opts.fail !== "function" && typeof opts.complete !== "function");
}

function mbResultOf(api, reply) {
  if (reply.err) return { res: Object.assign({}, reply.err), failed: true };
  var r = reply.ok && typeof reply.ok === "object" && !Array.isArray(reply.ok) ? mbDecode(reply.ok) : {};
  r.errMsg = api.slice(api.lastIndexOf(".") + 1) + ":ok";
  return { res: r, failed: false };
}

function mbAsyncApi(api, mapArgs) {
  return function (opts) {
    var promiseCtl = null, promise;
    if (mbWantsPromise(opts)) promise = new Promise(function (res, rej) { promiseCtl = { resolve: res, reject: rej }; });
    var reply = mbCallHost(api, function () { return mapArgs ? mapArgs(opts || {}) : mbArgs(opts); });
    if (reply.pending !== undefined) {
      MB.tickets.set(reply.pending, { api: api, done: function (r) { var x = mbResultOf(api, r); mbFinish(api, opts, promiseCtl, x.res, x.failed); } });
    } else {
      var x = mbResultOf(api, reply);
      mbFinish(api, opts, promiseCtl, x.res, x.failed);
    }
    return promise;
  };
}

function mbSyncApi(api, mapArgs, pick) {
  return function () {
    var argv = arguments;
    var reply = mbCallHost(api, function () { return mapArgs.apply(null, argv); });
    if (reply.err) throw new Error(reply.err.errMsg);
    return pick ? pick(mbDecode(reply.ok)) : mbDecode(reply.ok);
  };
}

function mbResolveTicket(ticket, reply) {
  var t = MB.tickets.get(ticket);
  if (!t) return false;
  MB.tickets.delete(ticket);
  t.done(reply);
  return true;
}

// Local APIs: run in the sandbox, report the same way.
function mbLocalApi(api, fn) {
  return function (opts) {
    opts = opts || {};
    var promiseCtl = null, promise;
    if (mbWantsPromise(opts)) promise = new Promise(function (res, rej) { promiseCtl = { resolve: res, reject: rej }; });
    var out;
    try { out = fn(opts); } catch (e) { out = { errMsg: api + ":fail " + (e && e.message ? e.message : e) }; }
    var failed = !out || / ?:fail/.test(out.errMsg || "");
    if (!failed && out && !out.errMsg) out.errMsg = api + ":ok";
    mbFinish(api, opts, promiseCtl, out, failed);
    return promise;
  };
}

function mbNavApi(api) {
  return mbLocalApi(api, function (opts) {
    if (api !== "navigateBack" && (typeof opts.url !== "string" || !opts.url)) {
      return { errMsg: api + ":fail parameter error: parameter.url should be String instead of Undefined;" };
    }
    return MB_NAV[api](opts);
  });
}

function mbCurrentPageId() {
  var top = MB.pages[MB.pages.length - 1];
  return top ? top.__pageId : 0;
}

function mbViewApi(api, fields) {
  return mbLocalApi(api, function (opts) {
    var msg = { t: "view", api: api, page: mbCurrentPageId() };
    fields.forEach(function (f) { if (opts[f] !== undefined) msg[f] = mbEncode(opts[f]); });
    mbEmit(msg);
    return {};
  });
}

// wx.createCanvasContext: WeChat's drawing context; it records the drawing and hands it to the
// view on draw() (a view without canvas support ignores it), so code that draws never breaks.
var MB_CANVAS_METHODS = ["arc", "arcTo", "beginPath", "bezierCurveTo", "clearRect", "clip", "closePath",
  "drawImage", "fill", "fillRect", "fillText", "lineTo", "moveTo", "quadraticCurveTo", "rect", "restore",
  "rotate", "save", "scale", "setFillStyle", "setFontSize", "setGlobalAlpha", "setLineCap", "setLineDash",
  "setLineJoin", "setLineWidth", "setMiterLimit", "setShadow", "setStrokeStyle", "setTextAlign",
  "setTextBaseline", "setTransform", "stroke", "strokeRect", "strokeText", "transform", "translate"];
function MbCanvasContext(canvasId) { this.canvasId = String(canvasId || ""); this.__ops = []; this.font = "10px sans-serif"; }
MB_CANVAS_METHODS.forEach(function (name) {
  MbCanvasContext.prototype[name] = function () {
    if (this.__ops.length < 10000) this.__ops.push([name].concat(Array.prototype.slice.call(arguments).map(function (a) {
      return typeof a === "number" || typeof a === "string" || typeof a === "boolean" ? a : null;
    })));
  };
});
MbCanvasContext.prototype.measureText = function (text) {
  var size = parseFloat(String(this.font).match(/([0-9.]+)px/) ? String(this.font).match(/([0-9.]+)px/)[1] : "10") || 10;
  return { width: String(text == null ? "" : text).length * size * 0.6 };
};
MbCanvasContext.prototype.createLinearGradient = function () { return { addColorStop: function () {} }; };
MbCanvasContext.prototype.createCircularGradient = MbCanvasContext.prototype.createLinearGradient;
MbCanvasContext.prototype.createPattern = function () { return {}; };
MbCanvasContext.prototype.draw = function (reserve, callback) {
  var ops = this.__ops;
  this.__ops = [];
  mbEmit({ t: "view", api: "canvasDraw", page: mbCurrentPageId(), canvasId: this.canvasId, reserve: !!reserve,
           ops: mbEncode(ops.slice(0, 10000)) });
  if (typeof callback === "function") MB.afterFlush.push(function () { mbGuard(null, callback); });
};

var MB_CANIUSE_COMPONENTS = {};
["view", "scroll-view", "swiper", "swiper-item", "movable-area", "movable-view", "cover-view", "cover-image",
 "icon", "text", "rich-text", "progress", "button", "checkbox", "checkbox-group", "form", "input", "label",
 "picker", "picker-view", "picker-view-column", "radio", "radio-group", "slider", "switch", "textarea",
 "navigator", "image", "web-view", "block", "page-meta", "navigation-bar"].forEach(function (n) { MB_CANIUSE_COMPONENTS[n] = 1; });

function mbBuildWx(apis) {
  var wx = {};
  var system = MB.config.system || {};
  // host APIs, exactly the ones this host registered (unknown APIs stay undefined, as in WeChat)
  apis.forEach(function (a) {
    if (a.name.indexOf(".") >= 0) return;  // methods of task and manager objects (06a_io.js)
    wx[a.name] = a.kind === "sync"
      ? mbSyncApi(a.name, function (arg) { return arg && typeof arg === "object" ? mbArgs(arg) : {}; })
      : mbAsyncApi(a.name);
  });
  if (wx.setStorageSync) wx.setStorageSync = mbSyncApi("setStorageSync", function (key, data) { var st = { chars: 0 }; return { key: mbEncodeIn(key, st, 2), data: mbEncodeIn(data, st, 2) }; });
  if (wx.getStorageSync) {
    var rawGet = mbSyncApi("getStorageSync", function (key) { return { key: key }; }, function (r) { return r.data; });
    wx.getStorageSync = function (key) {
      try { return rawGet(key); } catch (e) { if (/data not found/.test(e.message)) return ""; throw e; }
    };
  }
  if (wx.removeStorageSync) wx.removeStorageSync = mbSyncApi("removeStorageSync", function (key) { return { key: key }; });
  if (wx.clearStorageSync) wx.clearStorageSync = mbSyncApi("clearStorageSync", function () { return {}; });
  if (wx.getStorageInfoSync) wx.getStorageInfoSync = mbSyncApi("getStorageInfoSync", function () { return {}; });
  // navigation and the page's own view state
  ["navigateTo", "redirectTo", "navigateBack", "switchTab", "reLaunch"].forEach(function (n) { wx[n] = mbNavApi(n); });
  wx.setNavigationBarTitle = mbViewApi("setNavigationBarTitle", ["title"]);
  wx.setNavigationBarColor = mbViewApi("setNavigationBarColor", ["frontColor", "backgroundColor", "animation"]);
  wx.showNavigationBarLoading = mbViewApi("showNavigationBarLoading", []);
  wx.hideNavigationBarLoading = mbViewApi("hideNavigationBarLoading", []);
  wx.startPullDownRefresh = mbViewApi("startPullDownRefresh", []);
  wx.stopPullDownRefresh = mbViewApi("stopPullDownRefresh", []);
  wx.pageScrollTo = mbViewApi("pageScrollTo", ["scrollTop", "duration", "selector"]);
  wx.setBackgroundColor = mbViewApi("setBackgroundColor", ["backgroundColor", "backgroundColorTop", "backgroundColorBottom"]);
  wx.setTabBarBadge = mbViewApi("setTabBarBadge", ["index", "text"]);
  wx.removeTabBarBadge = mbViewApi("removeTabBarBadge", ["index"]);
  // system information comes with the instance's configuration
  var windowInfo = function () {
    return {
      pixelRatio: system.pixelRatio, screenWidth: system.screenWidth, screenHeight: system.screenHeight,
      windowWidth: system.windowWidth, windowHeight: system.windowHeight, statusBarHeight: system.statusBarHeight,
      safeArea: mbClone(system.safeArea), screenTop: 0,
    };
  };
  wx.getSystemInfoSync = function () { return mbClone(system); };
  wx.getSystemInfo = mbLocalApi("getSystemInfo", function () { return mbClone(system); });
  wx.getSystemInfoAsync = wx.getSystemInfo;
  wx.getWindowInfo = windowInfo;
  wx.getDeviceInfo = function () {
    return { brand: system.brand, model: system.model, system: system.system, platform: system.platform, pixelRatio: system.pixelRatio };
  };
  wx.getAppBaseInfo = function () {
    return { SDKVersion: system.SDKVersion, language: system.language, version: system.version, theme: system.theme || "light", host: { appId: MB.config.hostId || "" } };
  };
  wx.nextTick = function (fn) { Promise.resolve().then(function () { mbGuard(null, fn); }); };
  // `${API}.${method}.${param}...` or `${component}.${attribute}.${value}` (WeChat's schema): an API
  // this instance offers, or a built-in component minibox draws
  wx.canIUse = function (schema) {
    if (typeof schema !== "string" || !schema) return false;
    var head = schema.split(".")[0];
    if (head in wx) return true;
    return Object.prototype.hasOwnProperty.call(MB_CANIUSE_COMPONENTS, head);
  };
  wx.env = { USER_DATA_PATH: "wxfile://usr" };
  wx.getLaunchOptionsSync = function () { return mbClone(MB.launchOptions || {}); };
  wx.onAppShow = function (fn) { (MB.appShowListeners || (MB.appShowListeners = [])).push(fn); };
  wx.onAppHide = function (fn) { (MB.appHideListeners || (MB.appHideListeners = [])).push(fn); };
  wx.onError = function (fn) { (MB.errorListeners || (MB.errorListeners = [])).push(fn); };
  wx.onUnhandledRejection = function (fn) {
    if (typeof fn === "function") (MB.rejectionListeners || (MB.rejectionListeners = [])).push(fn);
  };
  wx.offUnhandledRejection = function (fn) {
    MB.rejectionListeners = (MB.rejectionListeners || []).filter(function (x) { return fn !== undefined && x !== fn; });
  };
  wx.getMenuButtonBoundingClientRect = function () {
    var top = (system.statusBarHeight || 20) + 4, right = (system.windowWidth || 375) - 7;
    return { width: 87, height: 32, top: top, right: right, bottom: top + 32, left: right - 87 };
  };
  wx.getAccountInfoSync = function () {
    return { miniProgram: { appId: MB.config.appId || "", envVersion: MB.config.envVersion || "release", version: MB.config.version || "" }, plugin: {} };
  };
  wx.getEnterOptionsSync = function () { return mbClone(MB.launchOptions || {}); };
  wx.createAnimation = function (defaults) { return new MbAnimation(defaults || {}); };
  wx.createCanvasContext = function (canvasId) { return new MbCanvasContext(canvasId); };
  wx.hideKeyboard = mbViewApi("hideKeyboard", []);
  wx.reportAnalytics = function (name, data) { mbEmit({ t: "analytics", name: String(name), data: mbEncode(data || {}) }); };
  wx.arrayBufferToBase64 = function (buf) { return mbToBase64(buf); };
  wx.base64ToArrayBuffer = function (text) { return mbFromBase64(text); };
  mbAnalyticsApis(wx, apis);
  if (typeof mbIoApis === "function") mbIoApis(wx, apis);
  return wx;
}

// Analytics (issue 11): reports go to the host's telemetry; nothing about it comes back.
function mbAnalyticsApis(wx, apis) {
  var has = {};
  apis.forEach(function (a) { has[a.name] = 1; });
  var quiet = function (api, build) { try { return mbCallHost(api, build); } catch (e) { return { err: {} }; } };
  if (has.reportEvent) wx.reportEvent = function (eventId, data) {
    quiet("reportEvent", function () { return { eventId: String(eventId), data: mbArgs(data) }; });
  };
  if (has["RealtimeLogManager.log"]) wx.getRealtimeLogManager = function () {
    var filters = [];
    var send = function (level, argv) {
      quiet("RealtimeLogManager.log", function () {
        return { level: level, msg: Array.prototype.map.call(argv, mbFormatArg).join(" ").slice(0, 1024), filters: filters.slice(0, 10) };
      });
    };
    var mgr = {
      info: function () { send("info", arguments); },
      warn: function () { send("warn", arguments); },
      error: function () { send("error", arguments); },
      setFilterMsg: function (m) { if (typeof m === "string") filters = [m.slice(0, 64)]; },
      addFilterMsg: function (m) { if (typeof m === "string" && filters.length < 10) filters.push(m.slice(0, 64)); },
      in: function () { return mgr; },
      tag: function () { return mgr; },
      getCurrentState: function () { return { size: 0, maxSize: 5242880, logCount: 0, maxLogCount: 5000 }; },
    };
    return mgr;
  };
  if (has["Performance.getEntries"]) wx.getPerformance = function () {
    var fetch = function () {
      var r = quiet("Performance.getEntries", function () { return {}; });
      return r && r.ok && Array.isArray(r.ok.entries) ? mbDecode(r.ok.entries) : [];
    };
    var list = function (all) {
      return {
        getEntries: function () { return all.slice(); },
        getEntriesByType: function (t) { return all.filter(function (e) { return e.entryType === t; }); },
        getEntriesByName: function (n, t) { return all.filter(function (e) { return e.name === n && (!t || e.entryType === t); }); },
      };
    };
    var perf = list([]);
    perf.getEntries = function () { return fetch(); };
    perf.getEntriesByType = function (t) { return list(fetch()).getEntriesByType(t); };
    perf.getEntriesByName = function (n, t) { return list(fetch()).getEntriesByName(n, t); };
    perf.setBufferSize = function () {};
    perf.now = function () { return Date.now(); };
    // the host measures after each command, so an observer looks for new entries a few times after
    // observe() (launch and first render land right after onLoad), and on every getEntries call
    perf.createObserver = function (callback) {
      var on = false, types = null, given = 0;
      var check = function () {
        if (!on || typeof callback !== "function") return;
        var all = fetch().filter(function (e) { return !types || types.indexOf(e.entryType) >= 0; });
        var fresh = all.slice(given);
        given = all.length;
        if (fresh.length) mbGuard(null, function () { callback(list(fresh)); });
      };
      return {
        observe: function (opts) {
          types = opts && opts.entryTypes ? opts.entryTypes : (opts && opts.type ? [opts.type] : null);
          on = true;
          [0, 50, 500, 2000].forEach(function (ms) { setTimeout(check, ms); });
        },
        disconnect: function () { on = false; },
      };
    };
    return perf;
  };
}

// wx.createAnimation: a chainable description the view turns into CSS transitions.
function MbAnimation(defaults) {
  this.__defaults = {
    duration: defaults.duration === undefined ? 400 : defaults.duration,
    timingFunction: defaults.timingFunction || "linear",
    delay: defaults.delay || 0,
    transformOrigin: defaults.transformOrigin || "50% 50% 0",
  };
  this.__current = [];
  this.__steps = [];
}
["opacity", "backgroundColor", "width", "height", "top", "left", "bottom", "right"].forEach(function (name) {
  MbAnimation.prototype[name] = function (value) {
    this.__current.push({ type: "style", args: [name.replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); }), value] });
    return this;
  };
});
["rotate", "rotateX", "rotateY", "rotateZ", "rotate3d", "scale", "scaleX", "scaleY", "scaleZ", "scale3d",
 "translate", "translateX", "translateY", "translateZ", "translate3d", "skew", "skewX", "skewY", "matrix", "matrix3d"
].forEach(function (name) {
  MbAnimation.prototype[name] = function () {
    this.__current.push({ type: name, args: Array.prototype.slice.call(arguments) });
    return this;
  };
});
MbAnimation.prototype.step = function (options) {
  var o = Object.assign({}, this.__defaults, options || {});
  this.__steps.push({ animates: this.__current, option: { transformOrigin: o.transformOrigin, transition: { duration: o.duration, timingFunction: o.timingFunction, delay: o.delay } } });
  this.__current = [];
  return this;
};
MbAnimation.prototype.export = function () {
  if (this.__current.length) this.step();
  var actions = this.__steps;
  this.__steps = [];
  return { actions: actions };
};
