// minibox renderer: applies the patch protocol (docs/internals.md section 4) to the DOM and reports
// view events (section 5). It runs no mini-program code: elements are made with createElement,
// text with textContent, URLs go through mbSafeUrl, rich-text through an allowlist, inline styles
// through mbSafeStyle. Built-in components get WeChat-like structure and behaviour here; their
// semantics (switch change, form submit ...) run in the sandbox (framework/08_builtins.js).
(function () {
  "use strict";

  var LONGPRESS_MS = 350;
  var TAP_SLOP_PX = 10;
  var REACH_BOTTOM_DEFAULT = 50;
  var MAX_RICH_TEXT_NODES = 5000;
  // Attributes never reflected onto DOM elements (event handlers, URLs, styling, identity).
  var DENY_ATTR = /^(on|style$|class$|src$|href$|srcdoc$|action$|formaction$|xmlns|is$|xlink:|data-mb-)/i;
  var ATTR_NAME = /^[a-z_][a-z0-9_\-:.]*$/i;
  // Tags whose tap has built-in semantics in the sandbox.
  var TAP_CONTROLS = { "switch": 1, checkbox: 1, radio: 1, button: 1, navigator: 1, label: 1 };
  var DEFAULT_HOVER = { button: "button-hover", navigator: "navigator-hover" };

  // ---------------------------------------------------------------- URL policy (VIEW-02)
  var IMAGE_DATA = /^data:image\/(png|jpe?g|gif|webp|bmp);base64,[a-z0-9+\/=\s]*$/i;

  function normalizePath(parts) {
    var out = [];
    for (var i = 0; i < parts.length; i++) {
      var p = parts[i];
      if (p === "" || p === ".") continue;
      if (p === "..") { if (!out.length) return null; out.pop(); continue; }
      out.push(p);
    }
    return out.join("/");
  }

  // kind: "image" | "media" | "webview" | "rich-image". base: the page path ("pages/a/a").
  function mbSafeUrl(kind, raw, opts) {
    opts = opts || {};
    var url = String(raw == null ? "" : raw).trim();
    if (!url) return { ok: false, reason: "empty url" };
    if (/[\u0000-\u001f\u007f]/.test(url)) return { ok: false, reason: "control characters in url" };
    var scheme = /^([a-z][a-z0-9+.\-]*):/i.exec(url);
    if (scheme) {
      var s = scheme[1].toLowerCase();
      if (s === "https") {
        var host;
        try { host = new URL(url).hostname.toLowerCase(); } catch (e) { return { ok: false, reason: "malformed url" }; }
        var allow = kind === "webview" ? (opts.webviewHosts || []) : (opts.imageHosts || []);
        if (allow.indexOf(host) < 0) return { ok: false, reason: "host " + host + " is not on the allowlist" };
        return { ok: true, url: url };
      }
      if (s === "data" && (kind === "image" || kind === "rich-image") && IMAGE_DATA.test(url)) return { ok: true, url: url };
      return { ok: false, reason: "scheme " + s + ": is not allowed" };
    }
    if (url.indexOf("//") === 0 || url.indexOf("\\") >= 0) return { ok: false, reason: "network-path reference" };
    if (kind === "webview" || kind === "rich-image") return { ok: false, reason: "only https urls are allowed" };
    var path = url.split(/[?#]/)[0];
    var baseDir = (opts.base || "").split("/").slice(0, -1);
    var parts = path.charAt(0) === "/" ? path.split("/") : baseDir.concat(path.split("/"));
    var rel = normalizePath(parts);
    if (rel === null || rel === "") return { ok: false, reason: "path escapes the package" };
    return { ok: true, url: (opts.assetBase || "") + rel.split("/").map(encodeURIComponent).join("/") };
  }

  // ---------------------------------------------------------------- inline styles (VIEW-04)
  var BAD_STYLE = /expression\s*\(|javascript:|vbscript:|-moz-binding|(^|[^\w-])behavior\s*:|@import/i;
  var RPX = /(-?(?:\d+\.\d*|\.\d+|\d+)(?:e[+-]?\d+)?)rpx\b/gi;

  function mbSafeStyle(style, opts) {
    var decls = String(style || "").split(";");
    var out = [];
    for (var i = 0; i < decls.length; i++) {
      var d = decls[i];
      if (!d.trim()) continue;
      if (BAD_STYLE.test(d)) continue;
      if (/url\s*\(/i.test(d)) {
        var ok = true;
        d = d.replace(/url\s*\(\s*(['"]?)([^'")]*)\1\s*\)/gi, function (m, q, u) {
          var r = mbSafeUrl("image", u, opts);
          if (!r.ok) { ok = false; return "none"; }
          return 'url("' + r.url.replace(/"/g, "%22") + '")';
        });
        if (!ok) continue;
      }
      out.push(d.replace(RPX, "calc(var(--rpx) * $1)"));
    }
    return out.join(";");
  }

  // ---------------------------------------------------------------- rich-text (VIEW-03)
  // WeChat's rich-text trusts these tags and attributes; anything else is dropped with its subtree.
  var RICH_TAGS = ("a abbr address article aside b bdi bdo big blockquote br caption center cite code col colgroup " +
    "dd del div dl dt em fieldset font footer h1 h2 h3 h4 h5 h6 header hr i img ins label legend li mark nav ol p " +
    "pre q rt ruby s section small span strong sub sup table tbody td tfoot th thead tr tt u ul").split(" ");
  var RICH_ATTRS = {
    "*": ["class", "style", "dir", "title"], col: ["span", "width"], colgroup: ["span", "width"],
    img: ["alt", "src", "height", "width"], ol: ["start", "type"], table: ["width"],
    td: ["colspan", "height", "rowspan", "width"], th: ["colspan", "height", "rowspan", "width"], font: ["color", "size", "face"],
  };

  function htmlToNodes(html) {
    // A document without a browsing context is inert: nothing loads, no handler can ever run.
    var doc = document.implementation.createHTMLDocument("");
    doc.body.innerHTML = String(html);
    function conv(n) {
      if (n.nodeType === 3) return { type: "text", text: n.data };
      if (n.nodeType !== 1) return null;
      var attrs = {};
      for (var i = 0; i < n.attributes.length; i++) attrs[n.attributes[i].name] = n.attributes[i].value;
      var kids = [];
      n.childNodes.forEach(function (c) { var k = conv(c); if (k) kids.push(k); });
      return { name: n.localName, attrs: attrs, children: kids };
    }
    var out = [];
    doc.body.childNodes.forEach(function (c) { var k = conv(c); if (k) out.push(k); });
    return out;
  }

  function buildRichText(container, nodes, opts) {
    var budget = { n: MAX_RICH_TEXT_NODES };
    if (typeof nodes === "string") nodes = htmlToNodes(nodes);
    if (!Array.isArray(nodes)) return;
    function build(parent, list, depth) {
      if (!Array.isArray(list) || depth > 64) return;
      for (var i = 0; i < list.length && budget.n > 0; i++) {
        var n = list[i];
        if (!n || typeof n !== "object") continue;
        budget.n--;
        if (n.type === "text") { parent.appendChild(document.createTextNode(String(n.text == null ? "" : n.text))); continue; }
        var name = String(n.name || "").toLowerCase();
        if (RICH_TAGS.indexOf(name) < 0) continue;  // untrusted: dropped with its subtree
        var el = document.createElement(name);
        var attrs = n.attrs && typeof n.attrs === "object" ? n.attrs : {};
        var allowed = RICH_ATTRS["*"].concat(RICH_ATTRS[name] || []);
        Object.keys(attrs).forEach(function (k) {
          var key = k.toLowerCase();
          if (allowed.indexOf(key) < 0) return;
          var v = String(attrs[k]);
          if (key === "style") { el.style.cssText = mbSafeStyle(v, opts); return; }
          if (key === "src") {
            var r = mbSafeUrl("rich-image", v, opts);
            if (r.ok) el.setAttribute("src", r.url);
            return;
          }
          el.setAttribute(key, v);
        });
        build(el, n.children, depth + 1);
        parent.appendChild(el);
      }
    }
    build(container, nodes, 0);
  }

  // ---------------------------------------------------------------- helpers
  function h(tag, cls, text) {
    var el = document.createElement(tag);
    el.setAttribute("data-mbx", "");
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function truthy(v) { return v === true || (v !== false && v != null && v !== "false" && v !== 0 && v !== "0"); }
  function num(v, d) { var n = Number(v); return isFinite(n) && v !== "" && v != null ? n : d; }
  function pad2(n) { return (n < 10 ? "0" : "") + n; }

  function decodeText(s) {
    return s.replace(/&(nbsp|lt|gt|amp|apos|quot|ensp|emsp);/g, function (m, e) {
      return { nbsp: "\u00a0", lt: "<", gt: ">", amp: "&", apos: "'", quot: '"', ensp: "\u2002", emsp: "\u2003" }[e];
    });
  }

  // ---------------------------------------------------------------- the renderer
  function Renderer(opts) {
    this.opts = opts;             // {screen, send, assetBase, imageHosts, webviewHosts, log}
    this.nodes = new Map();       // id -> DOM node (element or text) with __mb
    this.pages = new Map();       // page id -> {id, path, root, frame, config, query}
    this.stack = [];              // visible stack order of page ids
    this.app = {};
    this.dirty = new Set();
    this.seq = 0;
    this.pending = new Map();     // event seq -> node id (for input value replacement)
    this.stats = [];
    this.navLoading = false;
    this.badges = {};
    this.buildChrome();
    this.bindEvents();
  }

  Renderer.prototype.log = function (level, text) {
    if (this.opts.log) this.opts.log(level, text);
  };

  Renderer.prototype.urlOpts = function (el) {
    var page = el ? this.pageOf(el) : null;
    return { base: page ? page.path : "", assetBase: this.opts.assetBase, imageHosts: this.opts.imageHosts || [],
      webviewHosts: this.opts.webviewHosts || [] };
  };

  Renderer.prototype.pageOf = function (el) {
    var n = el;
    while (n && !(n.__mbPage)) n = n.parentNode;
    return n ? this.pages.get(n.__mbPage) : null;
  };

  // ---- chrome: navigation bar, pages, tab bar
  Renderer.prototype.buildChrome = function () {
    var s = this.opts.screen;
    this.navbar = h("div", "mb-navbar");
    this.back = h("div", "mb-navbar-back", "\u2039");
    this.back.setAttribute("role", "button");
    this.back.setAttribute("aria-label", "back");
    this.titleBox = h("div", "mb-navbar-title");
    this.spinner = h("span", "mb-spinner");
    this.titleText = h("span", "mb-navbar-text");
    this.titleBox.appendChild(this.spinner);
    this.titleBox.appendChild(this.titleText);
    this.capsule = h("div", "mb-capsule", "\u2022\u2022\u2022  \u25ce");
    this.home = h("div", "mb-navbar-home");  // WeChat's "back to the home page" button
    this.home.setAttribute("role", "button");
    this.home.setAttribute("aria-label", "home");
    this.home.appendChild(houseIcon());
    this.navbar.appendChild(this.back);
    this.navbar.appendChild(this.home);
    this.navbar.appendChild(this.titleBox);
    this.navbar.appendChild(this.capsule);
    this.stage = h("div", "mb-stage");
    this.tabbar = h("div", "mb-tabbar");
    s.appendChild(this.navbar);
    s.appendChild(this.stage);
    s.appendChild(this.tabbar);
    var self = this;
    this.back.addEventListener("click", function () { self.opts.send({ t: "navigate", api: "navigateBack", delta: 1 }); });
    this.home.addEventListener("click", function () {
      if (self.entryPage) self.opts.send({ t: "navigate", api: "reLaunch", url: "/" + self.entryPage });
    });
    this.updateRpx();
    if (typeof ResizeObserver === "function") new ResizeObserver(function () { self.updateRpx(); }).observe(s);
  };

  function houseIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "22");
    svg.setAttribute("height", "22");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M3.5 11 12 3.8l8.5 7.2M6 9v11h4.5v-6h3v6H18V9");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "1.6");
    path.setAttribute("stroke-linejoin", "round");
    svg.appendChild(path);
    return svg;
  }

  Renderer.prototype.updateRpx = function () {
    var w = this.opts.screen.clientWidth || 375;
    this.opts.screen.style.setProperty("--rpx", (w / 750) + "px");
  };

  Renderer.prototype.windowConfig = function (page) {
    var cfg = {}, base = this.app.window || {};
    Object.keys(base).forEach(function (k) { cfg[k] = base[k]; });
    var own = (page && page.config) || {};
    Object.keys(own).forEach(function (k) { cfg[k] = own[k]; });
    return cfg;
  };

  Renderer.prototype.top = function () {
    var id = this.stack[this.stack.length - 1];
    return id === undefined ? null : this.pages.get(id);
  };

  Renderer.prototype.isTabPage = function (path) {
    var tab = this.app.tabBar;
    var list = tab && Array.isArray(tab.list) ? tab.list : [];
    return list.some(function (item) { return String(item.pagePath || "").replace(/^\//, "").replace(/\.html$/, "") === path; });
  };

  // The mini-program's page stack (getCurrentPages()) as page ids. The renderer also keeps the tab
  // pages switchTab left alive (hidden); they are not on the stack. The runtime sends the stack with
  // every "show"; without it, only the last tab page shown counts.
  Renderer.prototype.pageStack = function () {
    var self = this;
    if (this.appStack) return this.appStack.filter(function (id) { return self.pages.has(id); });
    var lastTab = -1;
    this.stack.forEach(function (id, i) { var p = self.pages.get(id); if (p && self.isTabPage(p.path)) lastTab = i; });
    return this.stack.filter(function (id, i) { var p = self.pages.get(id); return p && (i === lastTab || !self.isTabPage(p.path)); });
  };

  Renderer.prototype.renderChrome = function () {
    var page = this.top();
    var cfg = this.windowConfig(page);
    var custom = cfg.navigationStyle === "custom";
    this.navbar.hidden = custom;
    this.navbar.style.backgroundColor = page && page.navColor ? page.navColor : (cfg.navigationBarBackgroundColor || "#f7f7f7");
    var front = page && page.navFront ? page.navFront : (cfg.navigationBarTextStyle === "white" ? "#ffffff" : "#000000");
    this.navbar.style.color = front;
    this.capsule.classList.toggle("mb-capsule--white", /^#fff/i.test(front));
    if (this.opts.statusbar) {  // the status bar takes the navigation bar's colours, as in WeChat
      this.opts.statusbar.style.backgroundColor = custom ? "" : this.navbar.style.backgroundColor;
      this.opts.statusbar.style.color = custom ? "" : front;
    }
    this.titleText.textContent = page ? (page.title != null ? page.title : (cfg.navigationBarTitleText || "")) : "";
    this.spinner.hidden = !(page && page.loading);
    // WeChat: a back arrow when the stack has more than one page; on a lone page that is neither the
    // home page nor a tab page (after reLaunch, or opened directly), a button back to the home page
    var depth = this.pageStack().length;
    this.back.hidden = !(page && depth > 1);
    this.home.hidden = !(page && depth === 1 && this.entryPage && page.path !== this.entryPage && !this.isTabPage(page.path));
    this.renderTabBar(page);
    if (page !== this.shownTop || (page && page.queryText !== this.shownQuery)) {
      this.shownTop = page;
      this.shownQuery = page ? page.queryText : null;
      if (page && this.opts.onPage) this.opts.onPage(page);
    }
    if (page) page.frame.style.backgroundColor = cfg.backgroundColor || "";
  };

  Renderer.prototype.renderTabBar = function (page) {
    var tab = this.app.tabBar;
    var list = tab && Array.isArray(tab.list) ? tab.list : [];
    var index = -1;
    for (var i = 0; page && i < list.length; i++) if (list[i].pagePath === page.path) index = i;
    this.tabbar.hidden = index < 0;
    if (index < 0) return;
    var self = this;
    while (this.tabbar.firstChild) this.tabbar.removeChild(this.tabbar.firstChild);
    this.tabbar.style.backgroundColor = tab.backgroundColor || "#f7f7f7";
    if (tab.borderStyle === "white") this.tabbar.classList.add("mb-tabbar--white");
    list.forEach(function (item, i) {
      var cell = h("div", "mb-tab" + (i === index ? " mb-tab--on" : ""));
      cell.style.color = i === index ? (tab.selectedColor || "#07c160") : (tab.color || "#7a7e83");
      var icon = i === index ? (item.selectedIconPath || item.iconPath) : item.iconPath;
      if (icon) {
        var r = mbSafeUrl("image", "/" + String(icon).replace(/^\//, ""), self.urlOpts(null));
        if (r.ok) { var img = h("img", "mb-tab-icon"); img.src = r.url; img.alt = ""; cell.appendChild(img); }
      } else {
        cell.appendChild(h("span", "mb-tab-dot"));
      }
      cell.appendChild(h("span", "mb-tab-text", String(item.text || "")));
      var badge = self.badges[i];
      if (badge) cell.appendChild(h("span", "mb-tab-badge", badge));
      cell.addEventListener("click", function () {
        if (i === index) return;
        self.opts.send({ t: "navigate", api: "switchTab", url: "/" + item.pagePath });
        self.opts.send({ t: "pageEvent", type: "tabItemTap", item: { index: i, pagePath: item.pagePath, text: item.text || "" } });
      });
      self.tabbar.appendChild(cell);
    });
  };

  // ---- messages
  Renderer.prototype.onMessage = function (msg) {
    switch (msg.t) {
      case "app": this.app = msg.app || {}; this.entryPage = msg.entryPage || null; this.renderChrome(); break;
      case "patch": this.applyOps(msg.ops); break;
      case "page": this.pageMessage(msg); break;
      case "view": this.viewApi(msg); break;
      case "eventResult": this.eventResult(msg); break;
      case "log": this.log(msg.level || "log", (msg.args || []).join(" ")); break;
      case "error": this.log("error", msg.message || ""); break;
      case "crash": this.log("error", "mini-program crashed: " + (msg.message || "")); break;
      default: break;
    }
  };

  // A page's query as a query string (values as the mini-program received them: undecoded).
  function queryText(query) {
    if (!query || typeof query !== "object") return "";
    return Object.keys(query).map(function (k) {
      var v = query[k];
      return encodeURIComponent(k) + "=" + (v == null ? "" : String(v));
    }).join("&");
  }

  Renderer.prototype.pageMessage = function (msg) {
    if (msg.op === "open") {
      var frame = h("div", "mb-page-frame");
      var root = document.createElement("wx-page");
      root.__mb = { id: msg.root, tag: "page", attrs: {}, cls: "", style: "", events: [] };
      root.setAttribute("data-mb-path", msg.path);
      frame.__mbPage = msg.page;
      frame.appendChild(root);
      var page = { id: msg.page, path: msg.path, root: root, frame: frame, config: msg.config || {}, query: msg.query || {},
        queryText: queryText(msg.query), title: null, reachedBottom: false };
      this.pages.set(msg.page, page);
      this.nodes.set(msg.root, root);
      var cfg = this.windowConfig(page);
      var refresher = h("div", "mb-refresher");
      refresher.appendChild(h("span", "mb-refresher-dots", "\u2022 \u2022 \u2022"));
      frame.insertBefore(refresher, root);
      page.refresher = refresher;
      if (cfg.backgroundTextStyle === "light") refresher.classList.add("mb-refresher--light");
      if (this.stack.length) frame.classList.add("mb-enter");
      this.stage.appendChild(frame);
      this.stack = this.stack.filter(function (id) { return id !== msg.page; });
      this.stack.push(msg.page);
      this.bindPageScroll(page);
      this.renderChrome();
    } else if (msg.op === "close") {
      var p = this.pages.get(msg.page);
      if (!p) return;
      this.pages.delete(msg.page);
      this.stack = this.stack.filter(function (id) { return id !== msg.page; });
      this.forget(p.root);
      if (!p.frame.hidden) {
        p.frame.classList.add("mb-leave");
        setTimeout(function () { p.frame.remove(); }, 220);
      } else {
        p.frame.remove();
      }
      this.renderChrome();
    } else if (msg.op === "hide" || msg.op === "show") {
      var q = this.pages.get(msg.page);
      if (!q) return;
      q.frame.hidden = msg.op === "hide";
      if (msg.op === "show") {
        if (Array.isArray(msg.stack)) this.appStack = msg.stack.slice();
        this.stack = this.stack.filter(function (id) { return id !== msg.page; });
        this.stack.push(msg.page);
        q.frame.classList.remove("mb-enter");
      }
      this.renderChrome();
    }
  };

  Renderer.prototype.forget = function (node) {
    if (node.__mb && this.nodes.get(node.__mb.id) === node) this.nodes.delete(node.__mb.id);
    this.dirty.delete(node);
    if (node.__mbTimer) { clearInterval(node.__mbTimer); node.__mbTimer = null; }
    var kids = node.childNodes;
    if (kids) for (var i = 0; i < kids.length; i++) this.forget(kids[i]);
  };

  Renderer.prototype.viewApi = function (msg) {
    var page = this.pages.get(msg.page) || this.top();
    if (!page) return;
    switch (msg.api) {
      case "setNavigationBarTitle": page.title = String(msg.title == null ? "" : msg.title); break;
      case "setNavigationBarColor":
        if (msg.backgroundColor) page.navColor = String(msg.backgroundColor);
        if (msg.frontColor) page.navFront = String(msg.frontColor);
        break;
      case "showNavigationBarLoading": page.loading = true; break;
      case "hideNavigationBarLoading": page.loading = false; break;
      case "pageScrollTo": {
        var top = num(msg.scrollTop, 0);
        if (msg.selector) {
          var target = page.root.querySelector(String(msg.selector).replace(/(^|[\s>+~,(])([a-z][a-z0-9\-]*)/g, "$1wx-$2"));
          if (target) top = target.getBoundingClientRect().top - page.frame.getBoundingClientRect().top + page.frame.scrollTop;
        }
        page.frame.scrollTo({ top: top, behavior: num(msg.duration, 300) > 0 ? "smooth" : "auto" });
        break;
      }
      case "startPullDownRefresh": this.startRefresh(page, true); break;
      case "stopPullDownRefresh": this.stopRefresh(page); break;
      case "setBackgroundColor": if (msg.backgroundColor) page.frame.style.backgroundColor = String(msg.backgroundColor); break;
      case "setTabBarBadge": this.badges[num(msg.index, 0)] = String(msg.text || ""); break;
      case "removeTabBarBadge": delete this.badges[num(msg.index, 0)]; break;
      case "hideKeyboard": if (document.activeElement) document.activeElement.blur(); break;
      default: return;
    }
    this.renderChrome();
  };

  // ---- patches
  Renderer.prototype.applyOps = function (ops) {
    var t0 = performance.now();
    for (var i = 0; i < ops.length; i++) this.applyOp(ops[i]);
    var self = this;
    this.dirty.forEach(function (el) { self.update(el); });
    this.dirty.clear();
    var t1 = performance.now();
    var stat = { ops: ops.length, applyMs: t1 - t0, paintMs: null };
    this.stats.push(stat);
    if (this.stats.length > 200) this.stats.shift();
    requestAnimationFrame(function () { setTimeout(function () { stat.paintMs = performance.now() - t0; }, 0); });
  };

  Renderer.prototype.node = function (id) {
    var n = this.nodes.get(id);
    if (!n) throw new Error("patch names unknown node " + id);
    return n;
  };

  // ["tree", parentId|null, firstId, spec, ...] (docs/internals.md section 4): each spec applied as the
  // ops it stands for, in their order (create, attributes, class, style, events, children, insert).
  Renderer.prototype.applyTree = function (op) {
    var self = this, nid = op[2];
    function build(spec, parentId) {
      var id;
      if (typeof spec === "string") {
        id = nid++;
        self.applyOp(["text", id, spec]);
      } else {
        if (!Array.isArray(spec)) throw new Error("malformed tree operation");
        var at = typeof spec[0] === "number" ? 1 : 0;  // its own id, not the one after the previous node's
        if (at) nid = spec[0];
        id = nid++;
        if (at && spec.length === 2) {
          self.applyOp(["text", id, spec[1]]);
        } else {
          if (typeof spec[at] !== "string" || spec.length < at + 3) throw new Error("malformed tree operation");
          self.applyOp(["create", id, spec[at]]);
          var extra = spec[at + 2] || {}, attrs = extra.a;
          if (attrs) Object.keys(attrs).forEach(function (name) { self.applyOp(["attr", id, name, attrs[name]]); });
          if (spec[at + 1]) self.applyOp(["class", id, spec[at + 1]]);
          if (extra.s) self.applyOp(["style", id, extra.s]);
          if (extra.e) self.applyOp(["events", id, extra.e]);
          for (var k = at + 3; k < spec.length; k++) build(spec[k], id);
        }
      }
      if (parentId !== null && parentId !== undefined) self.applyOp(["insert", parentId, id, null]);
    }
    for (var i = 3; i < op.length; i++) build(op[i], op[1]);
  };

  Renderer.prototype.applyOp = function (op) {
    var kind = op[0], el;
    switch (kind) {
      case "tree":
        this.applyTree(op);
        return;
      case "create":
        el = document.createElement("wx-" + String(op[2]).replace(/[^a-z0-9\-]/gi, "-").toLowerCase());
        el.__mb = { id: op[1], tag: String(op[2]), attrs: {}, cls: "", style: "", events: [] };
        this.nodes.set(op[1], el);
        this.setup(el);
        return;
      case "text": {
        var t = this.nodes.get(op[1]);
        if (!t) {
          t = document.createTextNode("");
          t.__mb = { id: op[1], text: String(op[2]) };
          this.nodes.set(op[1], t);
        } else {
          t.__mb.text = String(op[2]);
        }
        this.showText(t);
        return;
      }
      case "attr":
        el = this.node(op[1]);
        if (op[3] === null || op[3] === undefined) delete el.__mb.attrs[op[2]];
        else el.__mb.attrs[op[2]] = op[3];
        this.reflect(el, op[2], op[3]);
        this.dirty.add(el);
        return;
      case "class":
        el = this.node(op[1]);
        el.__mb.cls = String(op[2]);
        el.className = el.__mb.cls;
        if (el.__mbHover) el.classList.add.apply(el.classList, el.__mbHover);
        return;
      case "style":
        el = this.node(op[1]);
        el.__mb.style = String(op[2]);
        el.style.cssText = mbSafeStyle(op[2], this.urlOpts(el));
        return;
      case "events":
        this.node(op[1]).__mb.events = (op[2] || []).map(String);
        return;
      case "insert": {
        var parent = this.node(op[1]), child = this.node(op[2]);
        var box = parent.__mbBox || parent;
        var before = op[3] === null || op[3] === undefined ? null : this.nodes.get(op[3]);
        if (before && before.parentNode === box) box.insertBefore(child, before);
        else if (parent.__mbTail && parent.__mbTail.parentNode === box) box.insertBefore(child, parent.__mbTail);
        else box.appendChild(child);
        if (child.nodeType === 3) this.showText(child);
        if (parent.__mbSetup && parent.__mbSetup.children) this.dirty.add(parent);
        return;
      }
      case "remove": {
        var gone = this.node(op[1]);
        var from = gone.parentNode;
        if (from) from.removeChild(gone);
        this.forget(gone);
        var owner = from && (from.__mb ? from : from.parentNode);
        if (owner && owner.__mbSetup && owner.__mbSetup.children) this.dirty.add(owner);
        return;
      }
      default:
        throw new Error("unknown patch operation " + kind);
    }
  };

  Renderer.prototype.reflect = function (el, name, value) {
    if (!ATTR_NAME.test(name) || DENY_ATTR.test(name)) return;
    if (value === null || value === undefined || value === false) { el.removeAttribute(name); return; }
    el.setAttribute(name, value === true ? "" : (typeof value === "string" ? value : JSON.stringify(value)));
  };

  // Text shown for a text node: <text space> and <text decode> change what is drawn, not the model.
  Renderer.prototype.showText = function (t) {
    var text = t.__mb.text;
    var p = t.parentNode;
    if (p && p.__mb && p.__mb.tag === "text") {
      var a = p.__mb.attrs;
      if (truthy(a.decode)) text = decodeText(text);
      if (a.space === "nbsp") text = text.replace(/ /g, "\u00a0");
      else if (a.space === "ensp") text = text.replace(/ /g, "\u2002");
      else if (a.space === "emsp") text = text.replace(/ /g, "\u2003");
    }
    if (t.data !== text) t.data = text;
  };

  // ---- built-in components: structure made once at create, refreshed after attribute changes
  Renderer.prototype.setup = function (el) {
    var spec = BUILTINS[el.__mb.tag];
    el.__mbSetup = spec || null;
    if (spec && spec.setup) spec.setup.call(this, el);
    this.dirty.add(el);
  };

  Renderer.prototype.update = function (el) {
    var spec = el.__mbSetup;
    if (el.__mb.tag === "text") {
      for (var i = 0; i < el.childNodes.length; i++) if (el.childNodes[i].__mb) this.showText(el.childNodes[i]);
    }
    if (spec && spec.update) spec.update.call(this, el, el.__mb.attrs);
  };

  // ---- events
  Renderer.prototype.origin = function (target) {
    var n = target;
    while (n && !(n.__mb && n.__mb.tag)) n = n.parentNode;
    return n && this.nodes.get(n.__mb.id) === n ? n : null;
  };

  // Does the origin or an ancestor listen to `type` (or give it built-in meaning)?
  Renderer.prototype.wants = function (origin, type) {
    var n = origin;
    while (n) {
      if (n.__mb && n.__mb.events) {
        if (n.__mb.events.indexOf(type) >= 0) return true;
        if (type === "tap" && TAP_CONTROLS[n.__mb.tag]) return true;
      }
      n = n.parentNode;
    }
    return false;
  };

  Renderer.prototype.emit = function (node, type, detail, extra) {
    extra = extra || {};
    var msg = { t: "event", seq: ++this.seq, node: node.__mb.id, type: type, detail: detail || {},
      touches: extra.touches || [], changedTouches: extra.changedTouches || extra.touches || [],
      timeStamp: Math.round(performance.now()) };
    this.pending.set(msg.seq, node.__mb.id);
    this.opts.send(msg);
  };

  Renderer.prototype.eventResult = function (msg) {
    this.pending.delete(msg.seq);
    var el = this.nodes.get(msg.node);
    if (!el || !el.__mbField) return;
    if (el.__mbLastInput !== undefined && msg.seq <= el.__mbLastInput && el.__mbSent.length) el.__mbSent.shift();
    if (msg.value === null || msg.value === undefined || msg.seq !== el.__mbLastInput) return;
    var v = String(msg.value);
    el.__mb.attrs.value = v;
    if (el.__mbField.value !== v) el.__mbField.value = v;
  };

  function touchOf(e, screen) {
    var r = screen.getBoundingClientRect();
    var x = e.clientX - r.left, y = e.clientY - r.top;
    return { identifier: e.pointerId || 0, pageX: x, pageY: y, clientX: x, clientY: y, force: e.pressure || 1 };
  }

  Renderer.prototype.bindEvents = function () {
    var self = this, stage = this.stage, screen = this.opts.screen;
    var active = null;
    stage.addEventListener("pointerdown", function (e) {
      if (e.button && e.button !== 0) return;
      var origin = self.origin(e.target);
      if (!origin) return;
      var t = touchOf(e, screen);
      active = { origin: origin, start: t, moved: false, long: false, id: e.pointerId };
      self.hover(origin, true);
      if (self.wants(origin, "touchstart")) self.emit(origin, "touchstart", {}, { touches: [t], changedTouches: [t] });
      active.timer = setTimeout(function () {
        if (!active || active.moved) return;
        if (self.wants(origin, "longpress") || self.wants(origin, "longtap")) {
          active.long = true;
          if (self.wants(origin, "longpress")) self.emit(origin, "longpress", { x: t.pageX, y: t.pageY }, { touches: [t] });
          if (self.wants(origin, "longtap")) self.emit(origin, "longtap", { x: t.pageX, y: t.pageY }, { touches: [t] });
        }
      }, LONGPRESS_MS);
    });
    stage.addEventListener("pointermove", function (e) {
      if (!active || e.pointerId !== active.id) return;
      var t = touchOf(e, screen);
      if (Math.abs(t.pageX - active.start.pageX) > TAP_SLOP_PX || Math.abs(t.pageY - active.start.pageY) > TAP_SLOP_PX) {
        if (!active.moved) self.hover(active.origin, false);
        active.moved = true;
      }
      if (self.wants(active.origin, "touchmove")) self.emit(active.origin, "touchmove", {}, { touches: [t], changedTouches: [t] });
    });
    function finish(e, cancelled) {
      if (!active || e.pointerId !== active.id) return;
      var a = active;
      active = null;
      clearTimeout(a.timer);
      self.hover(a.origin, false);
      var t = touchOf(e, screen);
      var type = cancelled ? "touchcancel" : "touchend";
      if (self.wants(a.origin, type)) self.emit(a.origin, type, {}, { touches: [], changedTouches: [t] });
      if (cancelled || a.moved || a.long) return;
      if (self.wants(a.origin, "tap")) self.emit(a.origin, "tap", { x: t.pageX, y: t.pageY }, { touches: [t], changedTouches: [t] });
      for (var n = a.origin; n; n = n.parentNode) {  // a view-side action (a picker opens its sheet)
        if (n.__mbSetup && n.__mbSetup.tap) { n.__mbSetup.tap.call(self, n); break; }
      }
    }
    stage.addEventListener("pointerup", function (e) { finish(e, false); });
    stage.addEventListener("pointercancel", function (e) { finish(e, true); });
  };

  Renderer.prototype.hover = function (origin, on) {
    var n = origin;
    while (n && n.__mb) {
      var a = n.__mb.attrs;
      var cls = a["hover-class"] !== undefined ? a["hover-class"] : DEFAULT_HOVER[n.__mb.tag];
      if (cls && cls !== "none" && !truthy(a.disabled)) {
        var el = n;
        var names = String(cls).split(/\s+/).filter(Boolean);
        if (on) {
          clearTimeout(el.__mbHoverOff);
          el.__mbHoverOn = setTimeout(function () {
            el.__mbHover = names;
            el.classList.add.apply(el.classList, names);
          }, num(a["hover-start-time"], 20));
        } else {
          clearTimeout(el.__mbHoverOn);
          el.__mbHoverOff = setTimeout(function () {
            el.__mbHover = null;
            el.className = el.__mb.cls;
          }, num(a["hover-stay-time"], 70));
        }
        if (truthy(a["hover-stop-propagation"])) return;
      }
      n = n.parentNode;
      while (n && !n.__mb) n = n.parentNode;
    }
  };

  // ---- page scroll, reach bottom, pull-down refresh
  Renderer.prototype.bindPageScroll = function (page) {
    var self = this, frame = page.frame, last = 0, timer = null;
    frame.addEventListener("scroll", function () {
      var cfg = self.windowConfig(page);
      var now = performance.now();
      if (now - last > 100) { last = now; self.opts.send({ t: "pageEvent", type: "pageScroll", scrollTop: frame.scrollTop }); }
      else if (!timer) timer = setTimeout(function () { timer = null; last = performance.now(); self.opts.send({ t: "pageEvent", type: "pageScroll", scrollTop: frame.scrollTop }); }, 100);
      var distance = num(cfg.onReachBottomDistance, REACH_BOTTOM_DEFAULT);
      var atBottom = frame.scrollTop + frame.clientHeight >= frame.scrollHeight - distance;
      if (atBottom && !page.reachedBottom) self.opts.send({ t: "pageEvent", type: "reachBottom" });
      page.reachedBottom = atBottom;
    });
    var pull = null;
    frame.addEventListener("pointerdown", function (e) {
      if (frame.scrollTop <= 0 && truthy(self.windowConfig(page).enablePullDownRefresh)) pull = { y: e.clientY, d: 0 };
    });
    frame.addEventListener("pointermove", function (e) {
      if (!pull) return;
      pull.d = Math.max(0, Math.min(120, e.clientY - pull.y));
      page.refresher.style.height = pull.d + "px";
    });
    function end() {
      if (!pull) return;
      var go = pull.d > 60;
      pull = null;
      if (go) self.startRefresh(page, false);
      else page.refresher.style.height = "0px";
    }
    frame.addEventListener("pointerup", end);
    frame.addEventListener("pointercancel", end);
    frame.addEventListener("wheel", function (e) {
      if (e.deltaY < -40 && frame.scrollTop <= 0 && truthy(self.windowConfig(page).enablePullDownRefresh) && !page.refreshing) self.startRefresh(page, false);
    }, { passive: true });
  };

  Renderer.prototype.startRefresh = function (page) {
    if (page.refreshing) return;
    page.refreshing = true;
    page.refresher.style.height = "50px";
    page.refresher.classList.add("mb-refresher--on");
    this.opts.send({ t: "pageEvent", type: "pullDownRefresh" });
  };

  Renderer.prototype.stopRefresh = function (page) {
    page.refreshing = false;
    page.refresher.style.height = "0px";
    page.refresher.classList.remove("mb-refresher--on");
  };

  // ---- a comparable snapshot of a page's DOM (tests compare it with the headless tree)
  Renderer.prototype.snapshot = function (pageId) {
    var page = this.pages.get(pageId);
    if (!page) return null;
    function walk(n) {
      if (n.nodeType === 3) return { text: n.__mb.text };
      var out = { tag: n.__mb.tag, children: [] };
      var attrs = n.__mb.attrs, keys = Object.keys(attrs).sort();
      if (keys.length) { out.attrs = {}; keys.forEach(function (k) { out.attrs[k] = attrs[k]; }); }
      if (n.__mb.cls) out["class"] = n.__mb.cls;
      if (n.__mb.style) out.style = n.__mb.style;
      var box = n.__mbBox || n;
      box.childNodes.forEach(function (c) { if (c.__mb) out.children.push(walk(c)); });
      return out;
    }
    return walk(page.root);
  };

  // ================================================================ built-in components
  function field(self, el, tag) {
    var input = h(tag, "wx-" + el.__mb.tag + "-field");
    el.__mbField = input;
    el.appendChild(input);
    el.__mbSent = [];  // values typed and sent but not yet answered: their echoes must not undo typing
    input.addEventListener("input", function () {
      el.__mb.attrs.value = input.value;
      el.__mbSent.push(input.value);
      el.__mbLastInput = self.seq + 1;
      self.emit(el, "input", { value: input.value, cursor: input.selectionStart || input.value.length, keyCode: 0 });
    });
    input.addEventListener("focus", function () {
      if (self.wants(el, "focus")) self.emit(el, "focus", { value: input.value, height: 0 });
    });
    input.addEventListener("blur", function () {
      self.emit(el, "blur", { value: input.value, cursor: input.selectionStart || 0 });
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && tag === "input") {
        e.preventDefault();
        self.emit(el, "confirm", { value: input.value });
        if (!truthy(el.__mb.attrs["confirm-hold"])) input.blur();
      }
    });
    return input;
  }

  // A value from the sandbox replaces what is shown, unless it is the echo of a value still in flight.
  function setFieldValue(el, value) {
    var v = value == null ? "" : String(value);
    var f = el.__mbField;
    if (f.value === v || el.__mbSent.indexOf(v) >= 0) return;
    f.value = v;
  }

  var ICONS = {
    success: ["\u2713", "#09bb07", true], success_no_circle: ["\u2713", "#09bb07", false], info: ["i", "#10aeff", true],
    warn: ["!", "#f76260", true], waiting: ["\u25f7", "#10aeff", true], cancel: ["\u2715", "#f43530", true],
    download: ["\u2193", "#09bb07", true], search: ["\u2315", "#b2b2b2", false], clear: ["\u2715", "#b2b2b2", true],
    circle: ["", "#c9c9c9", true], success_circle: ["\u2713", "#09bb07", true], info_circle: ["i", "#09bb07", true],
  };

  var REGIONS = {
    "广东省": { "广州市": ["天河区", "越秀区", "海珠区"], "深圳市": ["南山区", "福田区", "罗湖区"] },
    "北京市": { "北京市": ["东城区", "西城区", "朝阳区", "海淀区"] },
    "上海市": { "上海市": ["黄浦区", "徐汇区", "浦东新区"] },
    "浙江省": { "杭州市": ["上城区", "西湖区", "滨江区"], "宁波市": ["海曙区", "江北区"] },
  };

  var BUILTINS = {
    text: {},
    input: {
      setup: function (el) { field(this, el, "input"); },
      update: function (el, a) {
        var f = el.__mbField;
        var type = a.password === true || a.password === "true" || a.password === "" ? "password" : (a.type === "number" || a.type === "digit" || a.type === "idcard" ? "text" : "text");
        if (f.type !== type) f.type = type;
        f.inputMode = a.type === "number" ? "numeric" : (a.type === "digit" ? "decimal" : "text");
        f.placeholder = a.placeholder == null ? "" : String(a.placeholder);
        var max = num(a.maxlength, 140);
        if (max >= 0) f.maxLength = max; else f.removeAttribute("maxlength");
        f.disabled = truthy(a.disabled);
        f.enterKeyHint = { send: "send", search: "search", next: "next", go: "go", done: "done" }[a["confirm-type"]] || "done";
        setFieldValue(el, a.value);
        if (truthy(a.focus) && !el.__mbFocused) { el.__mbFocused = true; setTimeout(function () { f.focus(); }, 0); }
        if (!truthy(a.focus)) el.__mbFocused = false;
      },
    },
    textarea: {
      setup: function (el) { field(this, el, "textarea"); },
      update: function (el, a) {
        var f = el.__mbField;
        f.placeholder = a.placeholder == null ? "" : String(a.placeholder);
        var max = num(a.maxlength, 140);
        if (max >= 0) f.maxLength = max; else f.removeAttribute("maxlength");
        f.disabled = truthy(a.disabled);
        setFieldValue(el, a.value);
        if (truthy(a["auto-height"])) { f.style.height = "auto"; f.style.height = f.scrollHeight + "px"; }
        if (truthy(a.focus) && !el.__mbFocused) { el.__mbFocused = true; setTimeout(function () { f.focus(); }, 0); }
      },
    },
    button: {
      setup: function (el) { el.__mbSpin = h("span", "wx-button-loading"); el.insertBefore(el.__mbSpin, null); el.setAttribute("role", "button"); },
      update: function (el, a) { el.__mbSpin.hidden = !truthy(a.loading); if (el.firstChild !== el.__mbSpin) el.insertBefore(el.__mbSpin, el.firstChild); },
    },
    checkbox: {
      setup: function (el) { el.__mbBoxIcon = h("span", "wx-checkbox-input"); el.appendChild(el.__mbBoxIcon); },
      update: function (el, a) {
        el.__mbBoxIcon.classList.toggle("wx-checkbox-input-checked", truthy(a.checked));
        el.__mbBoxIcon.classList.toggle("wx-checkbox-input-disabled", truthy(a.disabled));
        el.__mbBoxIcon.style.color = a.color ? String(a.color) : "";
        if (el.firstChild !== el.__mbBoxIcon) el.insertBefore(el.__mbBoxIcon, el.firstChild);
      },
    },
    radio: {
      setup: function (el) { el.__mbBoxIcon = h("span", "wx-radio-input"); el.appendChild(el.__mbBoxIcon); },
      update: function (el, a) {
        el.__mbBoxIcon.classList.toggle("wx-radio-input-checked", truthy(a.checked));
        el.__mbBoxIcon.style.backgroundColor = truthy(a.checked) ? (a.color ? String(a.color) : "") : "";
        el.__mbBoxIcon.style.borderColor = truthy(a.checked) ? (a.color ? String(a.color) : "") : "";
        if (el.firstChild !== el.__mbBoxIcon) el.insertBefore(el.__mbBoxIcon, el.firstChild);
      },
    },
    "switch": {
      setup: function (el) {
        el.__mbBoxIcon = h("span", "wx-switch-input");
        el.appendChild(el.__mbBoxIcon);
        el.setAttribute("role", "switch");
      },
      update: function (el, a) {
        var on = truthy(a.checked);
        var cb = a.type === "checkbox";
        el.__mbBoxIcon.className = cb ? "wx-checkbox-input" + (on ? " wx-checkbox-input-checked" : "") : "wx-switch-input" + (on ? " wx-switch-input-checked" : "");
        el.__mbBoxIcon.style.backgroundColor = on && !cb && a.color ? String(a.color) : "";
        el.__mbBoxIcon.style.borderColor = on && !cb && a.color ? String(a.color) : "";
        el.setAttribute("aria-checked", on ? "true" : "false");
        if (el.firstChild !== el.__mbBoxIcon) el.insertBefore(el.__mbBoxIcon, el.firstChild);
      },
    },
    icon: {
      setup: function (el) { el.__mbGlyph = h("span", "wx-icon-glyph"); el.appendChild(el.__mbGlyph); },
      update: function (el, a) {
        var spec = ICONS[a.type] || ICONS.info;
        var size = a.size == null ? 23 : (typeof a.size === "number" ? a.size : parseFloat(a.size) || 23);
        var color = a.color ? String(a.color) : spec[1];
        var g = el.__mbGlyph;
        g.textContent = spec[0];
        g.style.width = g.style.height = size + "px";
        g.style.fontSize = Math.round(size * 0.62) + "px";
        g.style.lineHeight = size + "px";
        g.style.backgroundColor = spec[2] ? color : "transparent";
        g.style.color = spec[2] ? "#fff" : color;
      },
    },
    progress: {
      setup: function (el) {
        el.__mbBar = h("span", "wx-progress-bar");
        el.__mbInner = h("span", "wx-progress-inner-bar");
        el.__mbBar.appendChild(el.__mbInner);
        el.__mbInfo = h("span", "wx-progress-info");
        el.appendChild(el.__mbBar);
        el.appendChild(el.__mbInfo);
      },
      update: function (el, a) {
        var p = Math.max(0, Math.min(100, num(a.percent, 0)));
        el.__mbInner.style.width = p + "%";
        el.__mbInner.style.backgroundColor = String(a.activeColor || a["active-color"] || a.color || "#09bb07");
        el.__mbBar.style.backgroundColor = String(a.backgroundColor || a["background-color"] || "#ebebeb");
        el.__mbBar.style.height = num(a["stroke-width"], 6) + "px";
        el.__mbInfo.hidden = !truthy(a["show-info"]);
        el.__mbInfo.textContent = p + "%";
      },
    },
    image: {
      setup: function (el) {
        var self = this;
        var img = h("img", "wx-image-img");
        img.alt = "";
        img.draggable = false;
        el.__mbImg = img;
        el.appendChild(img);
        img.addEventListener("load", function () {
          if (self.wants(el, "load")) self.emit(el, "load", { width: img.naturalWidth, height: img.naturalHeight });
        });
        img.addEventListener("error", function () {
          if (!img.getAttribute("src")) return;
          img.style.visibility = "hidden";  // an empty box, as WeChat shows, not a broken-image icon
          if (self.wants(el, "error")) self.emit(el, "error", { errMsg: "GET " + el.__mb.attrs.src + " 404 (Not Found)" });
        });
      },
      update: function (el, a) {
        var img = el.__mbImg;
        img.loading = truthy(a["lazy-load"]) ? "lazy" : "eager";
        var src = a.src == null ? "" : String(a.src);
        if (src !== el.__mbSrc) {
          el.__mbSrc = src;
          img.style.visibility = "";
          if (!src) { img.removeAttribute("src"); return; }
          var r = mbSafeUrl("image", src, this.urlOpts(el));
          if (r.ok) img.src = r.url;
          else {
            img.removeAttribute("src");
            this.log("error", "image: refused src \"" + src + "\": " + r.reason);
            if (this.wants(el, "error")) this.emit(el, "error", { errMsg: "image: refused src " + src + ": " + r.reason });
          }
        }
      },
    },
    "rich-text": {
      setup: function (el) { el.__mbRich = h("div", "wx-rich-text-content"); el.appendChild(el.__mbRich); },
      update: function (el, a) {
        var box = el.__mbRich;
        while (box.firstChild) box.removeChild(box.firstChild);
        buildRichText(box, a.nodes == null ? [] : a.nodes, this.urlOpts(el));
      },
    },
    "web-view": {
      update: function (el, a) {
        var src = a.src == null ? "" : String(a.src);
        if (src === el.__mbSrc) return;
        el.__mbSrc = src;
        if (el.__mbFrame) { el.__mbFrame.remove(); el.__mbFrame = null; }
        var r = mbSafeUrl("webview", src, this.urlOpts(el));
        var node;
        if (r.ok) {
          node = h("iframe", "wx-web-view-frame");
          node.setAttribute("sandbox", "allow-scripts allow-forms allow-same-origin");
          node.setAttribute("referrerpolicy", "no-referrer");
          node.src = r.url;
        } else {
          node = h("div", "wx-web-view-error");
          node.appendChild(h("div", "wx-web-view-error-icon", "!"));
          node.appendChild(h("div", "wx-web-view-error-title", "This page cannot be opened"));
          node.appendChild(h("div", "wx-web-view-error-text", "\u201c" + src + "\u201d is not on this mini-program's list of allowed web addresses (" + r.reason + ")."));
          this.log("error", "web-view: refused src \"" + src + "\": " + r.reason);
          if (this.wants(el, "error")) this.emit(el, "error", { src: src, errMsg: r.reason });
        }
        el.__mbFrame = node;
        el.appendChild(node);
      },
    },
    "scroll-view": {
      setup: function (el) {
        var self = this, lastTop = 0, lastLeft = 0, lower = false, upper = true;
        el.addEventListener("scroll", function () {
          var a = el.__mb.attrs;
          var detail = { scrollLeft: el.scrollLeft, scrollTop: el.scrollTop, scrollHeight: el.scrollHeight, scrollWidth: el.scrollWidth,
            deltaX: el.scrollLeft - lastLeft, deltaY: el.scrollTop - lastTop };
          lastTop = el.scrollTop; lastLeft = el.scrollLeft;
          if (self.wants(el, "scroll")) self.emit(el, "scroll", detail);
          var x = truthy(a["scroll-x"]) && !truthy(a["scroll-y"]);
          var thrL = num(a["lower-threshold"], 50), thrU = num(a["upper-threshold"], 50);
          var atLower = x ? el.scrollLeft + el.clientWidth >= el.scrollWidth - thrL : el.scrollTop + el.clientHeight >= el.scrollHeight - thrL;
          var atUpper = x ? el.scrollLeft <= thrU : el.scrollTop <= thrU;
          if (atLower && !lower && self.wants(el, "scrolltolower")) self.emit(el, "scrolltolower", { direction: x ? "right" : "bottom" });
          if (atUpper && !upper && self.wants(el, "scrolltoupper")) self.emit(el, "scrolltoupper", { direction: x ? "left" : "top" });
          lower = atLower; upper = atUpper;
        });
        el.__mbRefresher = h("div", "wx-scroll-view-refresher", "\u2022 \u2022 \u2022");
        el.appendChild(el.__mbRefresher);
        var pull = null;
        el.addEventListener("pointerdown", function (e) { if (truthy(el.__mb.attrs["refresher-enabled"]) && el.scrollTop <= 0) pull = { y: e.clientY, d: 0 }; });
        el.addEventListener("pointermove", function (e) {
          if (!pull) return;
          pull.d = Math.max(0, Math.min(100, e.clientY - pull.y));
          el.__mbRefresher.style.height = pull.d + "px";
          if (self.wants(el, "refresherpulling")) self.emit(el, "refresherpulling", { dy: pull.d });
        });
        function end() {
          if (!pull) return;
          var go = pull.d >= num(el.__mb.attrs["refresher-threshold"], 45);
          pull = null;
          if (go) { el.__mbRefresher.style.height = "45px"; self.emit(el, "refresherrefresh", {}); }
          else { el.__mbRefresher.style.height = "0px"; if (self.wants(el, "refresherabort")) self.emit(el, "refresherabort", {}); }
        }
        el.addEventListener("pointerup", end);
        el.addEventListener("pointercancel", end);
      },
      update: function (el, a) {
        if (el.firstChild !== el.__mbRefresher) el.insertBefore(el.__mbRefresher, el.firstChild);
        var trig = truthy(a["refresher-triggered"]);
        if (truthy(a["refresher-enabled"])) el.__mbRefresher.style.height = trig ? "45px" : "0px";
        var smooth = truthy(a["scroll-with-animation"]) ? "smooth" : "auto";
        var into = a["scroll-into-view"];
        requestAnimationFrame(function () {
          if (a["scroll-top"] !== undefined && a["scroll-top"] !== el.__mbTop) { el.__mbTop = a["scroll-top"]; el.scrollTo({ top: parseFloat(a["scroll-top"]) || 0, behavior: smooth }); }
          if (a["scroll-left"] !== undefined && a["scroll-left"] !== el.__mbLeft) { el.__mbLeft = a["scroll-left"]; el.scrollTo({ left: parseFloat(a["scroll-left"]) || 0, behavior: smooth }); }
          if (into && into !== el.__mbInto) {
            el.__mbInto = into;
            var found = null;
            el.querySelectorAll("[id]").forEach(function (n) { if (!found && n.__mb && String(n.__mb.attrs.id) === String(into)) found = n; });
            if (found) {
              var top = found.getBoundingClientRect().top - el.getBoundingClientRect().top + el.scrollTop;
              var left = found.getBoundingClientRect().left - el.getBoundingClientRect().left + el.scrollLeft;
              el.scrollTo({ top: truthy(a["scroll-y"]) ? top : el.scrollTop, left: truthy(a["scroll-x"]) ? left : el.scrollLeft, behavior: smooth });
            }
          }
        });
      },
    },
    swiper: {
      children: true,
      setup: function (el) {
        var self = this;
        el.__mbBox = h("div", "wx-swiper-track");
        el.__mbDots = h("div", "wx-swiper-dots");
        el.appendChild(el.__mbBox);
        el.appendChild(el.__mbDots);
        el.__mbCurrent = 0;
        var drag = null;
        el.addEventListener("pointerdown", function (e) { drag = { x: e.clientX, y: e.clientY }; });
        el.addEventListener("pointerup", function (e) {
          if (!drag) return;
          var vertical = truthy(el.__mb.attrs.vertical);
          var d = vertical ? e.clientY - drag.y : e.clientX - drag.x;
          drag = null;
          if (Math.abs(d) > 40) self.swiperGo(el, el.__mbCurrent + (d < 0 ? 1 : -1), "touch");
        });
      },
      update: function (el, a) {
        var n = this.swiperCount(el);
        var cur = num(a.current, el.__mbCurrent);
        if (a.current !== undefined && a.current !== el.__mbAttrCurrent) { el.__mbAttrCurrent = a.current; el.__mbCurrent = Math.max(0, Math.min(n - 1, cur)); }
        if (el.__mbCurrent >= n) el.__mbCurrent = Math.max(0, n - 1);
        this.swiperPaint(el);
        var self = this;
        var want = truthy(a.autoplay) ? num(a.interval, 5000) : 0;
        if (want !== el.__mbInterval) {
          if (el.__mbTimer) clearInterval(el.__mbTimer);
          el.__mbTimer = null;
          el.__mbInterval = want;
          if (want > 0) el.__mbTimer = setInterval(function () {
            if (!el.isConnected) return;
            var count = self.swiperCount(el);
            var next = el.__mbCurrent + 1;
            if (next >= count) next = 0;
            self.swiperGo(el, next, "autoplay");
          }, Math.max(200, want));
        }
      },
    },
    "swiper-item": {},
    slider: {
      setup: function (el) {
        var self = this;
        el.__mbTrack = h("span", "wx-slider-track");
        el.__mbFill = h("span", "wx-slider-fill");
        el.__mbHandle = h("span", "wx-slider-handle");
        el.__mbValue = h("span", "wx-slider-value");
        el.__mbTrack.appendChild(el.__mbFill);
        el.__mbTrack.appendChild(el.__mbHandle);
        el.appendChild(el.__mbTrack);
        el.appendChild(el.__mbValue);
        var dragging = false;
        function valueAt(e) {
          var a = el.__mb.attrs, r = el.__mbTrack.getBoundingClientRect();
          var min = num(a.min, 0), max = num(a.max, 100), step = num(a.step, 1) || 1;
          var f = Math.max(0, Math.min(1, (e.clientX - r.left) / (r.width || 1)));
          var v = min + Math.round((f * (max - min)) / step) * step;
          return Math.max(min, Math.min(max, Number(v.toFixed(6))));
        }
        el.__mbTrack.addEventListener("pointerdown", function (e) {
          if (truthy(el.__mb.attrs.disabled)) return;
          dragging = true;
          if (el.__mbTrack.setPointerCapture) try { el.__mbTrack.setPointerCapture(e.pointerId); } catch (x) { /* synthetic pointer */ }
          self.sliderSet(el, valueAt(e), "changing");
        });
        el.__mbTrack.addEventListener("pointermove", function (e) { if (dragging) self.sliderSet(el, valueAt(e), "changing"); });
        el.__mbTrack.addEventListener("pointerup", function (e) { if (!dragging) return; dragging = false; self.sliderSet(el, valueAt(e), "change"); });
      },
      update: function (el, a) {
        var min = num(a.min, 0), max = num(a.max, 100), v = num(a.value, min);
        var f = max > min ? (Math.max(min, Math.min(max, v)) - min) / (max - min) : 0;
        el.__mbFill.style.width = (f * 100) + "%";
        el.__mbFill.style.backgroundColor = String(a.activeColor || a["active-color"] || a["selected-color"] || "#1aad19");
        el.__mbHandle.style.left = (f * 100) + "%";
        var bs = num(a["block-size"], 28);
        el.__mbHandle.style.width = el.__mbHandle.style.height = bs + "px";
        el.__mbHandle.style.marginTop = (-bs / 2) + "px";
        el.__mbHandle.style.marginLeft = (-bs / 2) + "px";
        if (a["block-color"]) el.__mbHandle.style.backgroundColor = String(a["block-color"]);
        el.__mbValue.hidden = !truthy(a["show-value"]);
        el.__mbValue.textContent = String(v);
      },
    },
    picker: {
      tap: function (el) { if (!truthy(el.__mb.attrs.disabled)) this.openPicker(el); },
    },
    "picker-view": {
      children: true,
      update: function (el, a) {
        var self = this;
        requestAnimationFrame(function () { self.pickerViewPaint(el, a); });
      },
    },
    "picker-view-column": {
      setup: function (el) {
        var self = this, timer = null;
        el.addEventListener("scroll", function () {
          clearTimeout(timer);
          timer = setTimeout(function () { self.pickerViewScrolled(el); }, 120);
        });
      },
    },
    "movable-view": {
      setup: function (el) {
        var self = this, drag = null;
        el.__mbX = 0; el.__mbY = 0;
        el.addEventListener("pointerdown", function (e) {
          if (el.__mb.attrs.direction === undefined || el.__mb.attrs.direction === "none" || truthy(el.__mb.attrs.disabled)) return;
          drag = { x: e.clientX, y: e.clientY, ox: el.__mbX, oy: el.__mbY };
          if (el.setPointerCapture) try { el.setPointerCapture(e.pointerId); } catch (x) { /* synthetic pointer */ }
          e.stopPropagation();
        });
        el.addEventListener("pointermove", function (e) {
          if (!drag) return;
          var dir = el.__mb.attrs.direction;
          var x = dir === "vertical" ? drag.ox : drag.ox + e.clientX - drag.x;
          var y = dir === "horizontal" ? drag.oy : drag.oy + e.clientY - drag.y;
          self.movableSet(el, x, y, "touch");
        });
        el.addEventListener("pointerup", function () { drag = null; });
      },
      update: function (el, a) {
        var x = num(a.x, el.__mbX), y = num(a.y, el.__mbY);
        if (a.x !== el.__mbAX || a.y !== el.__mbAY) { el.__mbAX = a.x; el.__mbAY = a.y; this.movableSet(el, x, y, null); }
      },
    },
  };

  Renderer.prototype.swiperCount = function (el) {
    var n = 0;
    el.__mbBox.childNodes.forEach(function (c) { if (c.__mb && c.__mb.tag) n++; });
    return n;
  };

  Renderer.prototype.swiperPaint = function (el) {
    var a = el.__mb.attrs, n = this.swiperCount(el);
    var vertical = truthy(a.vertical);
    el.__mbBox.classList.toggle("wx-swiper-track-vertical", vertical);
    el.__mbBox.style.transitionDuration = num(a.duration, 500) + "ms";
    el.__mbBox.style.transform = vertical ? "translateY(" + (-100 * el.__mbCurrent) + "%)" : "translateX(" + (-100 * el.__mbCurrent) + "%)";
    var dots = el.__mbDots;
    while (dots.firstChild) dots.removeChild(dots.firstChild);
    dots.hidden = !truthy(a["indicator-dots"]);
    for (var i = 0; i < n; i++) {
      var d = h("span", "wx-swiper-dot" + (i === el.__mbCurrent ? " wx-swiper-dot-active" : ""));
      d.style.backgroundColor = String(i === el.__mbCurrent ? (a["indicator-active-color"] || "#000000") : (a["indicator-color"] || "rgba(0,0,0,.3)"));
      dots.appendChild(d);
    }
  };

  Renderer.prototype.swiperGo = function (el, index, source) {
    var n = this.swiperCount(el);
    if (!n) return;
    var circular = truthy(el.__mb.attrs.circular);
    if (index < 0) index = circular ? n - 1 : 0;
    if (index >= n) index = circular || source === "autoplay" ? 0 : n - 1;
    if (index === el.__mbCurrent) return;
    el.__mbCurrent = index;
    this.swiperPaint(el);
    var item = null, k = 0;
    el.__mbBox.childNodes.forEach(function (c) { if (c.__mb && c.__mb.tag) { if (k === index) item = c; k++; } });
    var itemId = item && item.__mb.attrs["item-id"] != null ? String(item.__mb.attrs["item-id"]) : "";
    this.emit(el, "change", { current: index, currentItemId: itemId, source: source });
  };

  Renderer.prototype.sliderSet = function (el, v, type) {
    el.__mb.attrs.value = v;
    BUILTINS.slider.update.call(this, el, el.__mb.attrs);
    if (type === "change" || this.wants(el, type)) this.emit(el, type, { value: v });
  };

  Renderer.prototype.movableSet = function (el, x, y, source) {
    var area = el.parentNode;
    while (area && !(area.__mb && area.__mb.tag === "movable-area")) area = area.parentNode;
    if (area && !truthy(el.__mb.attrs["out-of-bounds"])) {
      x = Math.max(0, Math.min(x, area.clientWidth - el.offsetWidth));
      y = Math.max(0, Math.min(y, area.clientHeight - el.offsetHeight));
    }
    el.__mbX = x; el.__mbY = y;
    el.style.transform = "translate(" + x + "px," + y + "px)";
    if (source && this.wants(el, "change")) this.emit(el, "change", { x: x, y: y, source: source });
  };

  // ---- picker: a bottom sheet drawn by the view (as WeChat draws it natively)
  Renderer.prototype.pickerColumns = function (el) {
    var a = el.__mb.attrs, mode = a.mode || "selector";
    function label(item) {
      if (item && typeof item === "object" && a["range-key"]) return String(item[a["range-key"]]);
      return String(item);
    }
    if (mode === "selector") return { cols: [(Array.isArray(a.range) ? a.range : []).map(label)], sel: [num(a.value, 0)] };
    if (mode === "multiSelector") {
      var cols = (Array.isArray(a.range) ? a.range : []).map(function (c) { return (Array.isArray(c) ? c : []).map(label); });
      var val = Array.isArray(a.value) ? a.value : [];
      return { cols: cols, sel: cols.map(function (c, i) { return num(val[i], 0); }) };
    }
    if (mode === "time") {
      var hours = [], mins = [];
      for (var hh = 0; hh < 24; hh++) hours.push(pad2(hh));
      for (var mm = 0; mm < 60; mm++) mins.push(pad2(mm));
      var tv = String(a.value || "00:00").split(":");
      return { cols: [hours, mins], sel: [num(tv[0], 0), num(tv[1], 0)] };
    }
    if (mode === "date") {
      var start = num(String(a.start || "1970").slice(0, 4), 1970), end = num(String(a.end || "2100").slice(0, 4), 2100);
      var years = [], months = [], days = [];
      for (var y = start; y <= end; y++) years.push(String(y));
      for (var m = 1; m <= 12; m++) months.push(pad2(m));
      for (var d = 1; d <= 31; d++) days.push(pad2(d));
      var now = new Date();
      var dv = String(a.value || (now.getFullYear() + "-" + pad2(now.getMonth() + 1) + "-" + pad2(now.getDate()))).split("-");
      var f = a.fields || "day";
      var c = [years, months, days].slice(0, f === "year" ? 1 : f === "month" ? 2 : 3);
      return { cols: c, sel: [Math.max(0, num(dv[0], start) - start), num(dv[1], 1) - 1, num(dv[2], 1) - 1].slice(0, c.length) };
    }
    if (mode === "region") {
      var rv = Array.isArray(a.value) ? a.value : [];
      var provs = Object.keys(REGIONS);
      var p = Math.max(0, provs.indexOf(rv[0]));
      var cities = Object.keys(REGIONS[provs[p]]);
      var ci = Math.max(0, cities.indexOf(rv[1]));
      var dists = REGIONS[provs[p]][cities[ci]];
      return { cols: [provs, cities, dists], sel: [p, ci, Math.max(0, dists.indexOf(rv[2]))], region: true };
    }
    return { cols: [], sel: [] };
  };

  Renderer.prototype.openPicker = function (el) {
    var self = this, a = el.__mb.attrs, mode = a.mode || "selector";
    var model = this.pickerColumns(el);
    var mask = h("div", "mb-picker-mask");
    var sheet = h("div", "mb-picker");
    var bar = h("div", "mb-picker-bar");
    var cancel = h("button", "mb-picker-cancel", "取消");
    var ok = h("button", "mb-picker-confirm", "确定");
    bar.appendChild(cancel); bar.appendChild(ok);
    var body = h("div", "mb-picker-body");
    sheet.appendChild(bar); sheet.appendChild(body);
    mask.appendChild(sheet);
    function paint() {
      while (body.firstChild) body.removeChild(body.firstChild);
      model.cols.forEach(function (col, ci) {
        var column = h("div", "mb-picker-col");
        col.forEach(function (text, i) {
          var item = h("div", "mb-picker-item" + (model.sel[ci] === i ? " mb-picker-item--on" : ""), text);
          item.addEventListener("click", function () {
            model.sel[ci] = i;
            if (model.region && ci < 2) {
              var provs = Object.keys(REGIONS), p = provs[model.sel[0]];
              if (ci === 0) model.sel[1] = 0;
              var cities = Object.keys(REGIONS[p]);
              model.cols[1] = cities;
              model.cols[2] = REGIONS[p][cities[model.sel[1]]];
              model.sel[2] = 0;
            }
            if (mode === "multiSelector") self.emit(el, "columnchange", { column: ci, value: i });
            paint();
          });
          column.appendChild(item);
        });
        body.appendChild(column);
        var on = column.children[model.sel[ci]];
        if (on) column.scrollTop = on.offsetTop - 80;
      });
    }
    paint();
    function close() { mask.remove(); }
    cancel.addEventListener("click", function () { close(); self.emit(el, "cancel", {}); });
    mask.addEventListener("click", function (e) { if (e.target === mask) { close(); self.emit(el, "cancel", {}); } });
    ok.addEventListener("click", function () {
      close();
      var value;
      if (mode === "selector") value = model.sel[0];
      else if (mode === "multiSelector") value = model.sel.slice();
      else if (mode === "time") value = model.cols[0][model.sel[0]] + ":" + model.cols[1][model.sel[1]];
      else if (mode === "date") value = model.sel.map(function (s, i) { return model.cols[i][s]; }).join("-");
      else if (mode === "region") value = model.sel.map(function (s, i) { return model.cols[i][s]; });
      el.__mb.attrs.value = value;
      var detail = { value: value };
      if (mode === "region") detail.code = [];
      self.emit(el, "change", detail);
    });
    this.opts.screen.appendChild(mask);
  };

  Renderer.prototype.pickerViewColumns = function (el) {
    var cols = [];
    (function walk(n) {
      n.childNodes.forEach(function (c) {
        if (!c.__mb || !c.__mb.tag) return;
        if (c.__mb.tag === "picker-view-column") cols.push(c); else walk(c);
      });
    })(el);
    return cols;
  };

  Renderer.prototype.pickerViewPaint = function (el, a) {
    var val = Array.isArray(a.value) ? a.value : [];
    this.pickerViewColumns(el).forEach(function (col, i) {
      var first = null;
      col.childNodes.forEach(function (c) { if (!first && c.__mb && c.__mb.tag) first = c; });
      var ih = first ? first.offsetHeight || 34 : 34;
      col.__mbItemHeight = ih;
      col.style.paddingTop = col.style.paddingBottom = Math.max(0, (col.clientHeight - ih) / 2) + "px";
      col.scrollTop = num(val[i], 0) * ih;
    });
  };

  Renderer.prototype.pickerViewScrolled = function (col) {
    var pv = col.parentNode;
    while (pv && !(pv.__mb && pv.__mb.tag === "picker-view")) pv = pv.parentNode;
    if (!pv) return;
    var value = this.pickerViewColumns(pv).map(function (c) { return Math.round(c.scrollTop / (c.__mbItemHeight || 34)); });
    var old = pv.__mb.attrs.value;
    if (JSON.stringify(old) === JSON.stringify(value)) return;
    pv.__mb.attrs.value = value;
    this.emit(pv, "change", { value: value });
  };

  window.MBRenderer = Renderer;
  window.mbSafeUrl = mbSafeUrl;
  window.mbSafeStyle = mbSafeStyle;
})();
