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

function mbEncode(v) {
  if (v instanceof Date) return { __mbType: "Date", value: v.getTime() };
  if (v instanceof ArrayBuffer) return { __type: "ArrayBuffer", base64: mbToBase64(v) };
  if (ArrayBuffer.isView(v)) return { __type: "ArrayBuffer", base64: mbToBase64(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) };
  if (v === null || typeof v !== "object") return typeof v === "function" ? undefined : v;
  if (Array.isArray(v)) return v.map(mbEncode);
  var out = {};
  Object.keys(v).forEach(function (k) { var x = mbEncode(v[k]); if (x !== undefined) out[k] = x; });
  return out;
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
  var out = {};
  if (opts && typeof opts === "object") Object.keys(opts).forEach(function (k) {
    if (typeof opts[k] !== "function") out[k] = mbEncode(opts[k]);
  });
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
    var reply = mbHostCall(api, mapArgs ? mapArgs(opts || {}) : mbArgs(opts));
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
    var reply = mbHostCall(api, mapArgs.apply(null, arguments));
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
  if (wx.setStorageSync) wx.setStorageSync = mbSyncApi("setStorageSync", function (key, data) { return { key: key, data: mbEncode(data) }; });
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
  wx.canIUse = function (schema) { return typeof schema === "string" && schema.split(".")[0] in wx; };
  wx.env = { USER_DATA_PATH: "wxfile://usr" };
  wx.getLaunchOptionsSync = function () { return mbClone(MB.launchOptions || {}); };
  wx.onAppShow = function (fn) { (MB.appShowListeners || (MB.appShowListeners = [])).push(fn); };
  wx.onAppHide = function (fn) { (MB.appHideListeners || (MB.appHideListeners = [])).push(fn); };
  wx.onError = function (fn) { (MB.errorListeners || (MB.errorListeners = [])).push(fn); };
  wx.getMenuButtonBoundingClientRect = function () {
    var top = (system.statusBarHeight || 20) + 4, right = (system.windowWidth || 375) - 7;
    return { width: 87, height: 32, top: top, right: right, bottom: top + 32, left: right - 87 };
  };
  wx.getAccountInfoSync = function () {
    return { miniProgram: { appId: MB.config.appId || "", envVersion: MB.config.envVersion || "release", version: MB.config.version || "" }, plugin: {} };
  };
  wx.getEnterOptionsSync = function () { return mbClone(MB.launchOptions || {}); };
  wx.createAnimation = function (defaults) { return new MbAnimation(defaults || {}); };
  wx.hideKeyboard = mbViewApi("hideKeyboard", []);
  wx.reportAnalytics = function (name, data) { mbEmit({ t: "analytics", name: String(name), data: mbEncode(data || {}) }); };
  wx.arrayBufferToBase64 = function (buf) { return mbToBase64(buf); };
  wx.base64ToArrayBuffer = function (text) { return mbFromBase64(text); };
  if (typeof mbIoApis === "function") mbIoApis(wx, apis);
  return wx;
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
