// minibox framework, part 7: the entry points the worker calls, one per host command.
"use strict";

function mbFindPage(pageId) {
  if (pageId === undefined || pageId === null) return MB.pages[MB.pages.length - 1] || null;
  for (var i = 0; i < MB.pages.length; i++) if (MB.pages[i].__pageId === pageId) return MB.pages[i];
  var kept = Object.keys(MB.tabPages).map(function (k) { return MB.tabPages[k]; });
  for (var j = 0; j < kept.length; j++) if (kept[j].__pageId === pageId) return kept[j];
  return null;
}

function mbRequirePage(pageId) {
  var page = mbFindPage(pageId);
  if (!page) throw new Error("no page " + pageId);
  return page;
}

function mbRunAfterFlush() {
  var rounds = 0;
  while (MB.afterFlush.length && rounds < 1000) {
    var queue = MB.afterFlush;
    MB.afterFlush = [];
    queue.forEach(function (fn) { mbGuard(null, fn); });
    rounds++;
  }
}

var MB_COMMANDS = {
  init: function (args) {
    MB.config = args.config;
    MB.startTime = MB.now;
    globalThis.wx = mbBuildWx(args.config.apis || []);
    return { ok: true };
  },
  launch: function (args) { MB.launchOptions = args; return mbLaunch(args); },
  event: function (args) { return mbViewEvent(args); },
  pageEvent: function (args) { return mbPageEvent(args); },
  navigate: function (args) {
    var fn = MB_NAV[args.api];
    if (!fn) throw new Error("unknown navigation " + args.api);
    var r = fn(args);
    return { errMsg: r.errMsg };
  },
  tick: function () { return { fired: mbRunTimers() }; },
  resolve: function (args) { return { resolved: mbResolveTicket(args.ticket, args.reply) }; },
  apiEvent: function (args) { return mbApiEvent(args); },
  flushed: function () { mbRunAfterFlush(); return { ok: true }; },
  appShow: function (args) { mbAppShowHide(true, args); return { ok: true }; },
  appHide: function () { mbAppShowHide(false); return { ok: true }; },
  pages: function () {
    return MB.pages.map(function (p) { return { page: p.__pageId, path: p.__path, query: p.__query, root: p.__host.id }; });
  },
  pageData: function (args) { return mbClone(mbRequirePage(args.page).data); },
  setPageData: function (args) { mbRequirePage(args.page).setData(args.data); return { ok: true }; },
  callMethod: function (args) {
    var page = mbRequirePage(args.page);
    var fn = page[args.method];
    if (typeof fn !== "function") throw new Error('page "' + page.__path + '" has no method "' + args.method + '"');
    var r = fn.apply(page, args.args || []);
    return r === undefined ? null : mbClone(mbEncode(r));
  },
  componentData: function (args) {
    var node = MB.nodes.get(args.node);
    if (!node || !node.comp) throw new Error("node " + args.node + " is not a custom component");
    return mbClone(node.comp.data);
  },
  componentCall: function (args) {
    var node = MB.nodes.get(args.node);
    if (!node || !node.comp) throw new Error("node " + args.node + " is not a custom component");
    var fn = node.comp[args.method];
    if (typeof fn !== "function") throw new Error('component "' + node.comp.__path + '" has no method "' + args.method + '"');
    var r = fn.apply(node.comp, args.args || []);
    return r === undefined ? null : mbClone(mbEncode(r));
  },
  nodeInfo: function (args) {
    var n = MB.nodes.get(args.node);
    if (!n) return null;
    return { dataset: mbClone(n.ds || {}), mark: mbClone(n.mk || {}), component: n.comp ? n.comp.__path : null };
  },
  // miniprogram-automator's callWxMethod / mockWxMethod / restoreWxMethod
  callWx: function (args) {
    var fn = wx[args.name];
    if (typeof fn !== "function") throw new Error("wx." + args.name + " is not a function");
    var out = { value: null };
    var r = fn.apply(wx, args.args || []);
    if (r && typeof r.then === "function") {
      r.then(function (v) { MB.lastWxResult = { ok: mbEncode(v) }; }, function (e) { MB.lastWxResult = { err: mbEncode(e) }; });
      out.promise = true;
    } else out.value = r === undefined ? null : mbEncode(r);
    return out;
  },
  lastWxResult: function () { var r = MB.lastWxResult || null; MB.lastWxResult = null; return r; },
  mockWx: function (args) {
    MB.wxOriginals = MB.wxOriginals || {};
    if (!(args.name in MB.wxOriginals)) MB.wxOriginals[args.name] = wx[args.name];
    var result = mbDecode(args.result);
    if (/Sync$/.test(args.name)) { wx[args.name] = function () { return mbClone(result); }; return { ok: true }; }
    wx[args.name] = mbLocalApi(args.name, function () {
      var r = mbIsPlainObject(result) ? mbClone(result) : { data: mbClone(result) };
      if (args.fail) r.errMsg = r.errMsg || args.name + ":fail mocked";
      return r;
    });
    return { ok: true };
  },
  restoreWx: function (args) {
    var orig = MB.wxOriginals || {};
    if (args.name in orig) { wx[args.name] = orig[args.name]; delete orig[args.name]; }
    return { ok: true };
  },
  appData: function () { return MB.app ? mbClone(mbEncode(MB.app.globalData)) : null; },
};

globalThis.__mbDispatch = function (json) {
  var msg = mbParseJson(json);
  MB.now = msg.now;
  var cmd = MB_COMMANDS[msg.fn];
  if (!cmd) throw new Error("unknown command " + msg.fn);
  var result = cmd(msg.args || {});
  return mbStringify(result === undefined ? null : result);
};

globalThis.__mbCollect = function () {
  mbFlushOps();
  var out = MB.out;
  MB.out = [];
  return mbStringify({ out: out, nextTimer: mbNextTimer(), afterFlush: MB.afterFlush.length > 0, tickets: MB.tickets.size });
};
