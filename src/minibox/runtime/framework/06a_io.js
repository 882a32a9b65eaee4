// minibox framework, part 6a: task objects and managers over host APIs — RequestTask,
// UploadTask, DownloadTask, SocketTask and the FileSystemManager. Only APIs the host registered
// appear; every call is still checked by the host.
"use strict";
MB.sockets = new Map();

function mbHas(apis, name) { return apis.some(function (a) { return a.name === name; }); }

// request / uploadFile / downloadFile: they return a task, never a Promise (as in WeChat).
function mbTransferApi(api) {
  return function (opts) {
    opts = opts || {};
    var state = { aborted: false, done: false };
    var task = {
      abort: function () {
        if (state.done || state.aborted) return;
        state.aborted = true;
        mbFinish(api, opts, null, { errMsg: api + ":fail abort" }, true);
      },
      onHeadersReceived: function () {}, offHeadersReceived: function () {},
      onProgressUpdate: function () {}, offProgressUpdate: function () {},
      onChunkReceived: function () {}, offChunkReceived: function () {},
    };
    var reply = mbCallHost(api, function () { return mbArgs(opts); });
    var finish = function (r) {
      if (state.aborted) return;
      state.done = true;
      var x = mbResultOf(api, r);
      mbFinish(api, opts, null, x.res, x.failed);
    };
    if (reply.pending !== undefined) MB.tickets.set(reply.pending, { api: api, done: finish });
    else finish(reply);
    return task;
  };
}

function mbSocketTask(id) {
  var listeners = { open: [], message: [], error: [], close: [] };
  var task = {
    socketTaskId: id,
    readyState: 0,
    send: function (o) {
      o = o || {};
      var r = mbCallHost("SocketTask.send", function () { return { socketTaskId: id, data: mbEncode(o.data) }; });
      var x = mbResultOf("SocketTask.send", r);
      mbFinish("send", o, null, x.res, x.failed);
    },
    close: function (o) {
      o = o || {};
      var r = mbHostCall("SocketTask.close", { socketTaskId: id, code: o.code || 1000, reason: o.reason || "" });
      var x = mbResultOf("SocketTask.close", r);
      mbFinish("close", o, null, x.res, x.failed);
    },
  };
  ["open", "message", "error", "close"].forEach(function (type) {
    var cap = type.charAt(0).toUpperCase() + type.slice(1);
    task["on" + cap] = function (fn) { if (typeof fn === "function") listeners[type].push(fn); };
    task["off" + cap] = function (fn) { listeners[type] = fn ? listeners[type].filter(function (f) { return f !== fn; }) : []; };
  });
  task.__deliver = function (ev) {
    if (ev.type === "open") task.readyState = 1;
    if (ev.type === "close") { task.readyState = 3; MB.sockets.delete(id); }
    var payload = ev.type === "message" ? { data: mbDecode(ev.data) }
      : ev.type === "error" ? { errMsg: ev.errMsg || "connectSocket:fail" }
      : ev.type === "close" ? { code: ev.code, reason: ev.reason || "" }
      : { header: ev.header || {}, profile: {} };
    listeners[ev.type].slice().forEach(function (fn) { mbGuard(null, function () { fn(payload); }); });
  };
  return task;
}

function mbConnectSocket(opts) {
  opts = opts || {};
  var reply = mbCallHost("connectSocket", function () { return mbArgs(opts); });
  var x = mbResultOf("connectSocket", reply);
  var task = null;
  if (!x.failed) {
    task = mbSocketTask(x.res.socketTaskId);
    MB.sockets.set(x.res.socketTaskId, task);
  }
  mbFinish("connectSocket", opts, null, x.failed ? x.res : { errMsg: "connectSocket:ok" }, x.failed);
  return task;
}

function mbApiEvent(args) {
  var task = MB.sockets.get(args.ticket);
  if (!task) return { delivered: false };
  task.__deliver(args.event || {});
  return { delivered: true };
}

// FileSystemManager: async methods with callbacks/promises, Sync methods with positional args.
var MB_FS_SYNC_ARGS = {
  readFile: ["filePath", "encoding", "position", "length"],
  writeFile: ["filePath", "data", "encoding"],
  appendFile: ["filePath", "data", "encoding"],
  mkdir: ["dirPath", "recursive"],
  readdir: ["dirPath"],
  stat: ["path", "recursive"],
  unlink: ["filePath"],
  rmdir: ["dirPath", "recursive"],
  access: ["path"],
  rename: ["oldPath", "newPath"],
  copyFile: ["srcPath", "destPath"],
  saveFile: ["tempFilePath", "filePath"],
};
var MB_FS_SYNC_RESULT = { readFile: "data", readdir: "files", stat: "stats", saveFile: "savedFilePath" };

function mbStats(s) {
  if (Array.isArray(s)) return s.map(function (e) { return { path: e.path, stats: mbStats(e.stats) }; });
  if (!s || typeof s !== "object") return s;
  var isDir = !!s.isDirectory, isFile = !!s.isFile;
  var out = { mode: s.mode, size: s.size, lastAccessedTime: s.lastAccessedTime, lastModifiedTime: s.lastModifiedTime };
  out.isDirectory = function () { return isDir; };
  out.isFile = function () { return isFile; };
  return out;
}

function mbFileSystemManager(apis) {
  var fsm = {};
  Object.keys(MB_FS_SYNC_ARGS).concat(["getFileInfo"]).forEach(function (name) {
    var api = "FileSystemManager." + name;
    if (mbHas(apis, api)) {
      var call = mbAsyncApi(api);
      fsm[name] = name === "stat" ? function (opts) {
        opts = opts || {};
        var wrapped = Object.assign({}, opts);
        if (typeof opts.success === "function") wrapped.success = function (r) { r.stats = mbStats(r.stats); opts.success(r); };
        var p = call(wrapped);
        return p ? p.then(function (r) { r.stats = mbStats(r.stats); return r; }) : p;
      } : call;
    }
    if (MB_FS_SYNC_ARGS[name] && mbHas(apis, api + "Sync")) {
      var names = MB_FS_SYNC_ARGS[name];
      fsm[name + "Sync"] = function () {
        var argv = arguments;
        var reply = mbCallHost(api + "Sync", function () {
          var args = {}, st = { chars: 0 };
          for (var i = 0; i < names.length; i++) if (argv[i] !== undefined) args[names[i]] = mbEncodeIn(argv[i], st, 2);
          return args;
        });
        if (reply.err) throw new Error(reply.err.errMsg);
        var key = MB_FS_SYNC_RESULT[name];
        if (!key) return undefined;
        var value = mbDecode(reply.ok[key]);
        return name === "stat" ? mbStats(value) : value;
      };
    }
  });
  return fsm;
}

function mbIoApis(wx, apis) {
  ["request", "uploadFile", "downloadFile"].forEach(function (api) { if (mbHas(apis, api)) wx[api] = mbTransferApi(api); });
  if (mbHas(apis, "connectSocket")) wx.connectSocket = mbConnectSocket;
  var fsm = null;
  if (apis.some(function (a) { return a.name.indexOf("FileSystemManager.") === 0; })) {
    wx.getFileSystemManager = function () { return fsm || (fsm = mbFileSystemManager(apis)); };
  }
}
