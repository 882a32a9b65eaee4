// minibox framework, part 5: App, Page, the page stack and navigation.
"use strict";
var MB_MAX_PAGES = 10;
var MB_PAGE_HOOKS = ["onLoad", "onShow", "onReady", "onHide", "onUnload", "onPullDownRefresh", "onReachBottom",
  "onPageScroll", "onShareAppMessage", "onShareTimeline", "onTabItemTap", "onResize", "onAddToFavorites"];

MB.pages = [];          // the page stack, bottom first
MB.tabPages = {};       // path -> page instance kept alive by switchTab
MB.nextPageId = 1;

globalThis.App = function App(options) {
  if (MB.app) throw new Error("App() can only be called once");
  var app = {};
  Object.keys(options || {}).forEach(function (k) {
    var v = options[k];
    app[k] = typeof v === "function" ? v : mbClone(v);
  });
  if (!app.globalData) app.globalData = {};
  MB.app = app;
};

globalThis.getApp = function getApp(opts) {
  if (!MB.app && opts && opts.allowDefault) return {};
  return MB.app;
};

globalThis.getCurrentPages = function getCurrentPages() { return MB.pages.slice(); };

globalThis.Page = function Page(options) {
  var path = MB.currentDefPath;
  if (!path) throw new Error("Page() must be called while its module is loaded by the framework");
  options = options || {};
  var methods = {}, fields = {};
  Object.keys(options).forEach(function (k) {
    if (k === "data" || k === "behaviors" || k === "options") return;
    if (typeof options[k] === "function") methods[k] = options[k];
    else fields[k] = options[k];
  });
  MB.defs[path] = {
    kind: "page", path: path, fields: fields,
    options: { data: options.data || {}, methods: methods, behaviors: options.behaviors || [], options: options.options || {} },
  };
};

function MbEventChannel() { this.__listeners = {}; this.__queue = []; this.__peer = null; }
MbEventChannel.prototype.on = function (name, fn) {
  (this.__listeners[name] || (this.__listeners[name] = [])).push({ fn: fn, once: false });
  this.__drain();
};
MbEventChannel.prototype.once = function (name, fn) {
  (this.__listeners[name] || (this.__listeners[name] = [])).push({ fn: fn, once: true });
  this.__drain();
};
MbEventChannel.prototype.off = function (name, fn) {
  var l = this.__listeners[name] || [];
  this.__listeners[name] = fn ? l.filter(function (x) { return x.fn !== fn; }) : [];
};
MbEventChannel.prototype.emit = function (name, data) {
  var peer = this.__peer;
  if (!peer) return;
  peer.__queue.push([name, data]);
  peer.__drain();
};
MbEventChannel.prototype.__drain = function () {
  var rest = [];
  var self = this;
  this.__queue.forEach(function (item) {
    var l = self.__listeners[item[0]];
    if (!l || !l.length) { rest.push(item); return; }
    l.slice().forEach(function (x) {
      if (x.once) self.__listeners[item[0]] = self.__listeners[item[0]].filter(function (y) { return y !== x; });
      mbGuard(null, function () { x.fn(item[1]); });
    });
  });
  this.__queue = rest;
};

function mbChannelPair(listeners) {
  var opener = new MbEventChannel(), opened = new MbEventChannel();
  opener.__peer = opened; opened.__peer = opener;
  Object.keys(listeners || {}).forEach(function (k) { if (typeof listeners[k] === "function") opener.on(k, listeners[k]); });
  return { opener: opener, opened: opened };
}

// "/pages/a/a?x=1" or "../b/b" relative to the current page -> {path, query, queryString}
function mbParseUrl(url) {
  url = String(url || "");
  var q = url.indexOf("?");
  var pathPart = q < 0 ? url : url.slice(0, q);
  var qs = q < 0 ? "" : url.slice(q + 1);
  var path;
  if (pathPart.charAt(0) === "/") path = mbNormalize(pathPart);
  else {
    var cur = MB.pages.length ? MB.pages[MB.pages.length - 1].__path : "";
    path = mbNormalize(mbDirname(cur) + "/" + pathPart);
  }
  path = path.replace(/\.html$/, "");
  return { path: path, query: mbParseQuery(qs), queryString: qs };
}

function mbPageExists(path) { return Object.prototype.hasOwnProperty.call(MB.config.pages, path); }

function mbIsTabPage(path) {
  var tb = MB.config.app.tabBar;
  return !!(tb && tb.list && tb.list.some(function (i) { return mbNormalize(i.pagePath || "") === path; }));
}

// A page that cannot run (its WXML, WXSS or JSON failed to compile, or its module throws at load)
// opens as an error page naming the errors; App.onError hears of it, and every other page still runs.
function mbPageFailure(path) {
  var broken = MB.config.broken && MB.config.broken[path];
  if (broken && broken.length) {
    var e = new Error('page "' + path + '" failed to compile:\n' + broken.join("\n"));
    mbReportError(e);
    return { reasons: broken.slice() };
  }
  try { mbLoadDef(path); } catch (err) {
    if (err instanceof InternalError && /out of memory/.test(err.message)) throw err;
    mbReportError(err);
    var msg = err && err.message ? String(err.message) : String(err);
    return { reasons: [msg] };
  }
  return null;
}

function mbErrorPageVnodes(path, reasons) {
  var items = reasons.map(function (r) { return { t: "view", a: {}, cls: "mb-error-page__reason", c: [{ x: String(r) }] }; });
  return [{ t: "view", a: {}, cls: "mb-error-page", c: [
    { t: "view", a: {}, cls: "mb-error-page__title", c: [{ x: "This page could not be opened" }] },
    { t: "view", a: {}, cls: "mb-error-page__path", c: [{ x: path }] },
  ].concat(items) }];
}

function mbCreatePage(path, query, channel) {
  var failure = MB.defs[path] ? null : mbPageFailure(path);
  var def = failure ? { kind: "page", path: path, fields: {},
    options: { data: {}, methods: {}, behaviors: [], options: {} } } : mbLoadDef(path);
  var pageId = MB.nextPageId++;
  var root = { id: mbNewId(), t: "page", a: {}, cls: "", st: "", ev: [], ds: {}, c: [], parent: null, owner: null, comp: null };
  MB.nodes.set(root.id, root);
  var inst = mbCreateInstance(path, def, root, null, null);
  inst.__isPage = true;
  inst.__pageId = pageId;
  inst.options = mbClone(query);
  inst.__query = query;
  inst.__eventChannel = channel || null;
  if (failure) inst.__errorVnodes = mbErrorPageVnodes(path, failure.reasons);
  root.comp = inst;
  // a page built with Component() receives its query as properties (WeChat 2.x)
  if (def.kind === "component") mbSetInitialProps(inst, query || {});
  if (def.kind === "page") {
    Object.keys(def.fields).forEach(function (k) { inst[k] = mbClone(def.fields[k]); });
  }
  mbEmit({ t: "page", op: "open", page: pageId, root: root.id, path: path, query: query, config: MB.config.pages[path].json || {} });
  mbCallLifetime(inst, "created");
  mbRenderComponent(inst);
  inst.__mounted = true;
  mbCallLifetime(inst, "attached");
  return inst;
}

function mbCallHook(inst, name, args) {
  var fn = inst[name];
  if (typeof fn !== "function") return undefined;
  return mbGuard(inst, function () { return fn.apply(inst, args || []); });
}

function mbShowPage(inst) {
  // `stack`: getCurrentPages() as page ids (every navigation ends with a show), for the view's back arrow
  mbEmit({ t: "page", op: "show", page: inst.__pageId, stack: MB.pages.map(function (p) { return p.__pageId; }) });
  mbCallHook(inst, "onShow");
  mbCallPageLifetimeChildren(inst, "show");
}

function mbHidePage(inst) {
  mbEmit({ t: "page", op: "hide", page: inst.__pageId });
  mbCallHook(inst, "onHide");
  mbCallPageLifetimeChildren(inst, "hide");
}

function mbCallPageLifetimeChildren(page, name, args) {
  page.__children.forEach(function (child) { mbCallPageLifetime(child, name, args); });
}

function mbReadyPage(inst) {
  MB.afterFlush.push(function () {
    if (!inst.__mounted || inst.__readyDone) return;
    inst.__readyDone = true;
    mbCallHook(inst, "onReady");
  });
}

function mbUnloadPage(inst) {
  mbCallHook(inst, "onUnload");
  inst.__mounted = false;
  mbCallLifetime(inst, "detached");
  inst.__roots.forEach(function (r) { mbDestroyNode(r, false); });
  inst.__roots = [];
  MB.nodes.delete(inst.__host.id);
  delete MB.tabPages[inst.__path];
  mbEmit({ t: "page", op: "close", page: inst.__pageId, root: inst.__host.id });
}

function mbOpenPage(path, query, channel) {
  var inst = mbCreatePage(path, query, channel);
  MB.pages.push(inst);  // getCurrentPages() in onLoad already ends with the new page
  mbCallHook(inst, "onLoad", [mbClone(query)]);
  mbShowPage(inst);
  mbReadyPage(inst);
  return inst;
}

function mbNavFail(api, msg) { return { errMsg: api + ":fail " + msg }; }

function mbPageNotFound(api, target, isEntry) {
  var app = MB.app;
  if (app && typeof app.onPageNotFound === "function") {
    mbGuard(null, function () { app.onPageNotFound({ path: target.path, query: target.query, isEntryPage: !!isEntry }); });
  }
  return mbNavFail(api, 'page "' + target.path + '" is not found');
}

// Each navigation returns {errMsg} (and eventChannel for navigateTo) or a failure object.
var MB_NAV = {
  navigateTo: function (opts) {
    var target = mbParseUrl(opts.url);
    if (!mbPageExists(target.path)) return mbPageNotFound("navigateTo", target, false);
    if (mbIsTabPage(target.path)) return mbNavFail("navigateTo", "can not navigateTo a tabbar page");
    if (MB.pages.length >= MB_MAX_PAGES) return mbNavFail("navigateTo", "webview count limit exceed");
    var pair = mbChannelPair(opts.events);
    var top = MB.pages[MB.pages.length - 1];
    if (top) mbHidePage(top);
    mbOpenPage(target.path, target.query, pair.opened);
    return { errMsg: "navigateTo:ok", eventChannel: pair.opener };
  },
  redirectTo: function (opts) {
    var target = mbParseUrl(opts.url);
    if (!mbPageExists(target.path)) return mbPageNotFound("redirectTo", target, false);
    if (mbIsTabPage(target.path)) return mbNavFail("redirectTo", "can not redirectTo a tabbar page");
    var top = MB.pages.pop();
    if (top) mbUnloadPage(top);
    mbOpenPage(target.path, target.query, null);
    return { errMsg: "redirectTo:ok" };
  },
  navigateBack: function (opts) {
    var delta = Math.max(1, parseInt(opts.delta || 1, 10) || 1);
    if (MB.pages.length <= 1) return mbNavFail("navigateBack", "cannot navigate back at first page.");
    delta = Math.min(delta, MB.pages.length - 1);
    for (var i = 0; i < delta; i++) mbUnloadPage(MB.pages.pop());
    mbShowPage(MB.pages[MB.pages.length - 1]);
    return { errMsg: "navigateBack:ok" };
  },
  switchTab: function (opts) {
    var target = mbParseUrl(opts.url);
    if (!mbPageExists(target.path)) return mbPageNotFound("switchTab", target, false);
    if (!mbIsTabPage(target.path)) return mbNavFail("switchTab", "can not switch to no-tabBar page");
    var top = MB.pages[MB.pages.length - 1];
    if (top && top.__path === target.path) return { errMsg: "switchTab:ok" };
    // non-tab pages are unloaded from the top; a kept tab page is hidden only if it was showing
    while (MB.pages.length) {
      var p = MB.pages.pop();
      if (MB.tabPages[p.__path] === p) { if (p === top) mbHidePage(p); }
      else mbUnloadPage(p);
    }
    var kept = MB.tabPages[target.path];
    if (kept) { MB.pages.push(kept); mbShowPage(kept); }
    else { kept = mbOpenPage(target.path, {}, null); MB.tabPages[target.path] = kept; }
    return { errMsg: "switchTab:ok" };
  },
  reLaunch: function (opts) {
    var target = mbParseUrl(opts.url);
    if (!mbPageExists(target.path)) return mbPageNotFound("reLaunch", target, false);
    while (MB.pages.length) mbUnloadPage(MB.pages.pop());
    Object.keys(MB.tabPages).forEach(function (k) {
      var p = MB.tabPages[k];
      if (p.__mounted) mbUnloadPage(p);
    });
    MB.tabPages = {};
    var inst = mbOpenPage(target.path, target.query, null);
    if (mbIsTabPage(target.path)) MB.tabPages[target.path] = inst;
    return { errMsg: "reLaunch:ok" };
  },
};

function mbLaunch(opts) {
  var entry = opts.path || MB.config.entryPage;
  var target = mbParseUrl("/" + entry + (opts.query ? "?" + opts.query : ""));
  var launchOptions = { path: target.path, query: target.query, scene: opts.scene || 1001, referrerInfo: {} };
  if (MB.modules["app.js"]) {
    MB.currentDefPath = "app";
    try { mbRequire("app.js"); } catch (e) { mbReportError(e); } finally { MB.currentDefPath = null; }
  }
  var app = MB.app;
  if (app && typeof app.onLaunch === "function") mbGuard(null, function () { app.onLaunch(mbClone(launchOptions)); });
  if (app && typeof app.onShow === "function") mbGuard(null, function () { app.onShow(mbClone(launchOptions)); });
  if (!mbPageExists(target.path)) {
    mbPageNotFound("launch", target, true);
    if (!MB.pages.length) {
      if (mbPageExists(MB.config.entryPage)) target = { path: MB.config.entryPage, query: {} };
      else return { errMsg: "launch:fail no page" };
    }
    if (MB.pages.length) return { errMsg: "launch:ok" };
  }
  var inst = mbOpenPage(target.path, target.query, null);
  if (mbIsTabPage(target.path)) MB.tabPages[target.path] = inst;
  return { errMsg: "launch:ok", path: target.path };
}

function mbAppShowHide(show, opts) {
  var app = MB.app;
  var top = MB.pages[MB.pages.length - 1];
  if (show) {
    if (app && typeof app.onShow === "function") mbGuard(null, function () { app.onShow(opts || {}); });
    if (top) mbShowPage(top);
  } else {
    if (top) mbHidePage(top);
    if (app && typeof app.onHide === "function") mbGuard(null, function () { app.onHide(); });
  }
}

// Page events the view reports: pull-down, reach-bottom, scroll, tab item tap, share.
function mbPageEvent(ev) {
  var page = MB.pages[MB.pages.length - 1];
  if (!page) return null;
  switch (ev.type) {
    case "pullDownRefresh": return mbCallHook(page, "onPullDownRefresh");
    case "reachBottom": return mbCallHook(page, "onReachBottom");
    case "pageScroll": return mbCallHook(page, "onPageScroll", [{ scrollTop: ev.scrollTop || 0 }]);
    case "tabItemTap": return mbCallHook(page, "onTabItemTap", [ev.item || {}]);
    case "resize": {
      var size = ev.size || {};
      mbCallPageLifetimeChildren(page, "resize", [mbClone(size)]);  // components' pageLifetimes.resize
      return mbCallHook(page, "onResize", [size]);
    }
    case "shareAppMessage": {
      var r = mbCallHook(page, "onShareAppMessage", [{ from: ev.from || "menu", target: ev.target }]);
      return r ? mbClone(r) : { title: MB.config.app.window && MB.config.app.window.navigationBarTitleText || "", path: "/" + page.__path };
    }
    default: return null;
  }
}
