// minibox host page: connects the renderer to the view server, draws the simulator chrome and the
// host's own UI (toasts, loading, modals, action sheets) in a layer outside the mini-program DOM.
(function () {
  "use strict";

  // A modal ignores taps that arrive this soon after it appears (VIEW-06: a tap already in flight).
  var PROMPT_GUARD_MS = 400;
  var params = new URLSearchParams(location.search);
  var consoleBox = document.getElementById("mb-console");
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

  function log(level, text) {
    window.__mbConsole.push({ level: level, text: String(text) });
    var line = el("div", "mb-console-line mb-console-" + level, "[" + level + "] " + text);
    consoleBox.appendChild(line);
    while (consoleBox.childNodes.length > 500) consoleBox.removeChild(consoleBox.firstChild);
    consoleBox.scrollTop = consoleBox.scrollHeight;
  }

  function send(msg) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg));
  }

  function showErrors(errors) {
    var box = document.getElementById("mb-errors");
    while (box.firstChild) box.removeChild(box.firstChild);
    box.appendChild(el("h2", "", "Compile failed"));
    errors.forEach(function (e) { box.appendChild(el("pre", "mb-error-line", e)); });
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
    var pageSelect = document.getElementById("mb-page");
    (state.pages || []).forEach(function (p) {
      var o = el("option", "", p);
      o.value = p;
      o.selected = p === params.get("path");
      pageSelect.appendChild(o);
    });
    pageSelect.addEventListener("change", function () { params.set("path", pageSelect.value); location.search = params.toString(); });
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
      imageHosts: state.imageHosts || [], webviewHosts: state.webviewHosts || [], log: log,
    });
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
          else if (m.t === "refused") log("warn", "refused: " + m.reason);
          else if (m.t === "restart") location.reload();
          else renderer.onMessage(m);
        } catch (err) {
          log("error", "view: " + err.message);
        }
      });
    });
  });
})();
