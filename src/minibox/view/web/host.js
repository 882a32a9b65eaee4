// minibox host page: connects the renderer to the view server, draws the simulator chrome and the
// host's own UI (toasts, loading, modals, action sheets) in a layer outside the mini-program DOM.
(function () {
  "use strict";

  // A modal ignores taps that arrive this soon after it appears (VIEW-06: a tap already in flight).
  var PROMPT_GUARD_MS = 400;
  var params = new URLSearchParams(location.search);
  var consoleList = document.getElementById("mb-console-list");
  var status = document.getElementById("mb-status");
  var screen = document.getElementById("mb-screen");
  var frame = document.getElementById("mb-device-frame");
  var layerHost = document.getElementById("mb-host-layer");
  var layer = layerHost.attachShadow({ mode: "open" });
  var sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = "/static/host.css";
  layer.appendChild(sheet);
  var ws = null;
  // What the console panel holds, newest last (tests read it); the panel shows the same entries.
  window.__mbConsole = [];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // The host's watermark (who is looking, when): drawn in the host layer, outside the
  // mini-program's DOM, so no patch can remove or cover it; it never takes a tap.
  function watermark(text) {
    var old = layer.getElementById ? layer.getElementById("mb-watermark") : null;
    if (old) old.remove();
    if (!text) return;
    var mark = el("div", "mb-watermark");
    mark.id = "mb-watermark";
    mark.setAttribute("aria-hidden", "true");
    for (var i = 0; i < 24; i++) mark.appendChild(el("span", "mb-watermark-text", String(text)));
    layer.appendChild(mark);
  }

  // ---- the console panel: the mini-program's console output and errors, as text only, bounded
  var CONSOLE_MAX_ENTRIES = 1000;
  var CONSOLE_MAX_CHARS = 10000;
  var LEVELS = { log: "log", info: "info", warn: "warn", error: "error", debug: "debug" };
  var counts = { error: 0, warn: 0 };
  function clip(text) {
    text = String(text);
    return text.length > CONSOLE_MAX_CHARS
      ? text.slice(0, CONSOLE_MAX_CHARS) + "\u2026 (" + (text.length - CONSOLE_MAX_CHARS) + " more characters)" : text;
  }
  function renderCounts() {
    document.getElementById("mb-console-errors").textContent = counts.error + (counts.error === 1 ? " error" : " errors");
    document.getElementById("mb-console-warnings").textContent = counts.warn + (counts.warn === 1 ? " warning" : " warnings");
  }
  // level: log/info/warn/error/debug; opts: {stack, source} (source: "compile", "view", "crash", ...)
  function log(level, text, opts) {
    opts = opts || {};
    level = Object.prototype.hasOwnProperty.call(LEVELS, level) ? LEVELS[level] : "log";
    var entry = { level: level, text: clip(text), stack: opts.stack ? clip(opts.stack) : "", source: opts.source || "" };
    var last = consoleList.lastChild;
    if (last && last.__mbEntry && last.__mbEntry.level === entry.level && last.__mbEntry.text === entry.text &&
        last.__mbEntry.stack === entry.stack && last.__mbEntry.source === entry.source) {
      last.__mbEntry.repeat++;  // the same message again: a count, as devtools do
      last.__mbRepeat.textContent = String(last.__mbEntry.repeat);
      last.__mbRepeat.hidden = false;
      entry = last.__mbEntry;
    } else {
      entry.repeat = 1;
      var line = el("div", "mb-console-line mb-console-" + level);
      line.__mbEntry = entry;
      line.__mbRepeat = el("span", "mb-console-repeat", "1");
      line.__mbRepeat.hidden = true;
      line.appendChild(line.__mbRepeat);
      if (entry.source) line.appendChild(el("span", "mb-console-source", entry.source));
      line.appendChild(el("span", "mb-console-text", entry.text));
      if (entry.stack) line.appendChild(el("pre", "mb-console-stack", entry.stack));
      consoleList.appendChild(line);
      while (consoleList.childNodes.length > CONSOLE_MAX_ENTRIES) consoleList.removeChild(consoleList.firstChild);
    }
    if (entry.repeat === 1) window.__mbConsole.push(entry);
    if (window.__mbConsole.length > CONSOLE_MAX_ENTRIES) window.__mbConsole.splice(0, window.__mbConsole.length - CONSOLE_MAX_ENTRIES);
    if (level === "error" || level === "warn") { counts[level]++; renderCounts(); }
    consoleList.scrollTop = consoleList.scrollHeight;
  }
  document.getElementById("mb-console-clear").addEventListener("click", function () {
    while (consoleList.firstChild) consoleList.removeChild(consoleList.firstChild);
    window.__mbConsole = [];
    counts = { error: 0, warn: 0 };
    renderCounts();
  });
  var levelSelect = document.getElementById("mb-console-level");
  levelSelect.addEventListener("change", function () { consoleList.setAttribute("data-filter", levelSelect.value); });

  // The frames of a stack in the mini-program's own files (file:line:col); minibox's framework
  // (evaluated as "<input>") and native frames are left out.
  function appFrames(stack) {
    return String(stack || "").split("\n").filter(function (line) {
      return line.trim() && !/\(<input>:|\(native\)|^\s*at <input>:/.test(line);
    }).join("\n");
  }

  // A message of the mini-program (its console, its errors) for the panel.
  function consoleMessage(m) {
    if (m.t === "log") {
      var args = Array.isArray(m.args) ? m.args : [m.args];
      log(m.level, args.map(function (a) { return typeof a === "string" ? a : JSON.stringify(a); }).join(" "));
    } else if (m.t === "error") {
      log("error", m.message || "", { stack: appFrames(m.stack), source: "uncaught" });
    } else if (m.t === "crash") {
      log("error", "mini-program crashed: " + (m.message || ""), { source: "crash" });
    }
  }

  function send(msg) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg));
  }

  var loggedCompileErrors = {};  // the page and the socket both report them; the console shows each once
  function showErrors(errors) {
    var box = document.getElementById("mb-errors");
    while (box.firstChild) box.removeChild(box.firstChild);
    box.appendChild(el("h2", "", "Compile failed"));
    errors.forEach(function (e) {
      box.appendChild(el("pre", "mb-error-line", e));
      if (!loggedCompileErrors[e]) { loggedCompileErrors[e] = true; log("error", e, { source: "compile" }); }
    });
    box.hidden = false;
    status.textContent = "compile errors";
  }

  // ---- host UI
  var toastTimer = null, toastBox = null, loadingBox = null;
  function clearToast() { if (toastBox) { toastBox.remove(); toastBox = null; } }
  function toast(p, isLoading) {
    clearToast();
    var box = el("div", "mb-toast-wrap" + (p.mask ? " mb-toast-mask" : ""));
    var t = el("div", "mb-toast" + (p.icon === "none" && !isLoading ? " mb-toast--text" : ""));
    if (isLoading || p.icon === "loading") t.appendChild(el("div", "mb-toast-spinner"));
    else if (p.icon === "error") t.appendChild(el("div", "mb-toast-icon", "\u2715"));
    else if (p.icon !== "none") t.appendChild(el("div", "mb-toast-icon", "\u2713"));
    t.appendChild(el("div", "mb-toast-title", String(p.title || "")));
    box.appendChild(t);
    layer.appendChild(box);
    if (isLoading) { loadingBox = box; return; }
    toastBox = box;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(clearToast, Math.max(0, Number(p.duration) || 1500));
  }

  function prompt(kind, p, index) {
    var shown = performance.now();
    var mask = el("div", "mb-mask");
    function guard(fn) {
      return function (e) {
        e.stopPropagation();
        if (performance.now() - shown < PROMPT_GUARD_MS) return;
        mask.remove();
        fn();
      };
    }
    if (kind === "modal") {
      var box = el("div", "mb-modal");
      box.setAttribute("role", "dialog");
      if (p.title) box.appendChild(el("div", "mb-modal-title", String(p.title)));
      var input = null;
      if (p.editable) {
        input = el("input", "mb-modal-input");
        input.placeholder = String(p.placeholderText || "");
        input.value = String(p.content || "");
        box.appendChild(input);
      } else if (p.content) box.appendChild(el("div", "mb-modal-content", String(p.content)));
      var btns = el("div", "mb-modal-buttons");
      if (p.showCancel !== false) {
        var c = el("button", "mb-modal-cancel", String(p.cancelText || "取消"));
        c.addEventListener("click", guard(function () { send({ t: "prompt", index: index, action: "cancel" }); }));
        btns.appendChild(c);
      }
      var ok = el("button", "mb-modal-confirm", String(p.confirmText || "确定"));
      ok.addEventListener("click", guard(function () { send({ t: "prompt", index: index, action: "confirm", value: input ? input.value : null }); }));
      btns.appendChild(ok);
      box.appendChild(btns);
      mask.appendChild(box);
    } else {
      var sheetBox = el("div", "mb-action-sheet");
      if (p.alertText) sheetBox.appendChild(el("div", "mb-action-alert", String(p.alertText)));
      (p.itemList || []).forEach(function (item, i) {
        var b = el("button", "mb-action-item", String(item));
        b.style.color = String(p.itemColor || "#000");
        b.addEventListener("click", guard(function () { send({ t: "prompt", index: index, action: "choose", value: i }); }));
        sheetBox.appendChild(b);
      });
      var cancel = el("button", "mb-action-cancel", "取消");
      cancel.addEventListener("click", guard(function () { send({ t: "prompt", index: index, action: "cancel" }); }));
      sheetBox.appendChild(cancel);
      mask.appendChild(sheetBox);
    }
    layer.appendChild(mask);
  }

  function ui(msg) {
    var p = msg.payload || {};
    switch (msg.event) {
      case "toast": toast(p, false); break;
      case "hideToast": clearToast(); break;
      case "loading": if (loadingBox) loadingBox.remove(); toast(p, true); break;
      case "hideLoading": if (loadingBox) { loadingBox.remove(); loadingBox = null; } break;
      case "modal": prompt("modal", p, msg.prompt); break;
      case "actionSheet": prompt("actionSheet", p, msg.prompt); break;
      default: break;
    }
  }

  // ---- start
  fetch("/state").then(function (r) { return r.json(); }).then(function (state) {
    var devices = state.devices || {};
    var device = devices[params.get("device")] ? params.get("device") : "iphone-se";
    var select = document.getElementById("mb-device");
    Object.keys(devices).forEach(function (name) {
      var o = el("option", "", name + " (" + devices[name][0] + "\u00d7" + devices[name][1] + ")");
      o.value = name;
      o.selected = name === device;
      select.appendChild(o);
    });
    select.addEventListener("change", function () { params.set("device", select.value); location.search = params.toString(); });
    // The page menu: shows the page on top of the stack (and its query) as the mini-program navigates;
    // choosing a page, or editing the query, reLaunches there. The address follows, so Reload (and a
    // reload on save) reopens the page shown.
    var pageSelect = document.getElementById("mb-page");
    var queryInput = document.getElementById("mb-query");
    var knownQuery = {};
    if (params.get("path")) knownQuery[params.get("path")] = params.get("query") || "";
    (state.pages || []).forEach(function (p) {
      var o = el("option", "", p);
      o.value = p;
      o.selected = p === params.get("path");
      pageSelect.appendChild(o);
    });
    queryInput.value = params.get("query") || "";
    function relaunch(path, query) {
      query = String(query || "").replace(/^\?/, "");
      knownQuery[path] = query;
      if (ws && ws.readyState === 1 && window.__mbView) {
        send({ t: "navigate", api: "reLaunch", url: "/" + path + (query ? "?" + query : "") });
      } else {
        params.set("path", path);
        params.set("query", query);
        location.search = params.toString();
      }
    }
    pageSelect.addEventListener("change", function () {
      queryInput.value = knownQuery[pageSelect.value] || "";
      relaunch(pageSelect.value, queryInput.value);
    });
    queryInput.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); relaunch(pageSelect.value, queryInput.value); }
    });
    function onPage(page) {
      knownQuery[page.path] = page.queryText;
      if (pageSelect.value !== page.path) pageSelect.value = page.path;
      if (document.activeElement !== queryInput) queryInput.value = page.queryText;
      params.set("path", page.path);
      if (page.queryText) params.set("query", page.queryText); else params.delete("query");
      history.replaceState(null, "", "?" + params.toString());
    }
    document.getElementById("mb-reload").addEventListener("click", function () { location.reload(); });
    var size = devices[device] || [375, 667];
    frame.style.width = size[0] + "px";
    frame.style.height = size[1] + "px";
    if (state.errors && state.errors.length) { showErrors(state.errors); }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = "/bundle/" + state.version + "/app.css";
    document.head.appendChild(css);
    var renderer = new window.MBRenderer({
      screen: screen, statusbar: document.getElementById("mb-statusbar"), send: send, assetBase: "/bundle/" + state.version + "/assets/",
      imageHosts: state.imageHosts || [], webviewHosts: state.webviewHosts || [], onPage: onPage,
      log: function (level, text) { log(level, text, { source: "simulator" }); },
    });
    (state.pageErrors || []).forEach(function (e) { log("error", e, { source: "compile" }); });
    (state.warnings || []).forEach(function (w) { log("warn", w, { source: "compile" }); });
    window.__mbView = renderer;
    var q = new URLSearchParams();
    if (params.get("path")) q.set("path", params.get("path"));
    if (params.get("query")) q.set("query", params.get("query"));
    q.set("device", device);
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?" + q.toString());
    window.__mbReceived = 0;
    ws.addEventListener("open", function () { status.textContent = "running"; });
    ws.addEventListener("close", function () { status.textContent = "disconnected"; });
    ws.addEventListener("message", function (e) {
      var msg = JSON.parse(e.data);
      var list = msg.t === "batch" ? msg.messages : [msg];
      list.forEach(function (m) {
        window.__mbReceived++;
        try {
          if (m.t === "ui") ui(m);
          else if (m.t === "watermark") watermark(m.text);
          else if (m.t === "reload") location.reload();
          else if (m.t === "compileErrors") showErrors(m.errors || []);
          else if (m.t === "refused") log("warn", "refused: " + m.reason, { source: "simulator" });
          else if (m.t === "log" || m.t === "error" || m.t === "crash") consoleMessage(m);
          else if (m.t === "navigated") {
            var r = m.result || {};
            if (r.errMsg && String(r.errMsg).indexOf(":ok") < 0) log("warn", String(r.errMsg), { source: "simulator" });
          }
          else if (m.t === "restart") location.reload();
          else renderer.onMessage(m);
        } catch (err) {
          log("error", "view: " + err.message, { source: "simulator" });
        }
      });
    });
  });
})();
