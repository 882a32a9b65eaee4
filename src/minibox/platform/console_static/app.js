// minibox operator console: a small single-page client of the JSON API (no build step, no framework).
// Security rules of this file: every node is built with createElement/textContent (submitted text is never
// parsed as HTML); state-changing calls carry the session's CSRF token; the server decides every permission
// (what the role may not do is hidden here only for convenience, and refused by the API anyway).
"use strict";
(function () {
  const CATALOGS = window.MB_I18N;
  const LANGS = ["en", "zh-CN"];
  let lang = localStorage.getItem("mb-lang") || ((navigator.language || "").startsWith("zh") ? "zh-CN" : "en");
  let csrf = sessionStorage.getItem("mb-csrf") || "";
  let me = null;
  let loginNotice = "";

  // ---- i18n ---------------------------------------------------------------------------------------------
  function t(key, params) {
    let s = (CATALOGS[lang] && CATALOGS[lang][key]) || CATALOGS.en[key] || key;
    for (const [k, v] of Object.entries(params || {})) s = s.split(`{${k}}`).join(String(v));
    return s;
  }
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  function fmtDate(iso) {
    if (!iso) return "";
    // The API's times are UTC; SQLite gives them without an offset, so say so before parsing.
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) || !iso.includes("T") ? iso : `${iso}Z`);
    if (Number.isNaN(d.getTime())) return iso;
    return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" }).format(d);
  }
  function fmtBytes(n) {
    if (n == null) return "";
    if (n < 1024) return `${n} B`;
    if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1048576).toFixed(2)} MB`;
  }

  // ---- DOM helpers --------------------------------------------------------------------------------------
  const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "multiple", "open"]);
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    const props = [];
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) props.push([k, v]);
      else node.setAttribute(k, v === true ? "" : v);
    }
    append(node, children);
    for (const [k, v] of props) node[k] = v;  // after the children: a select's value needs its options
    return node;
  }
  function append(node, children) {
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const $ = (sel, root) => (root || document).querySelector(sel);

  function table(columns, rows, opts) {
    const o = opts || {};
    if (!rows.length) return el("p", { class: "empty" }, o.empty || t("common.none"));
    return el("div", { class: "table-wrap" }, el("table", { class: "data" },
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", { class: c.cls }, c.label)))),
      el("tbody", {}, rows.map((row) => el("tr", o.rowAttrs ? o.rowAttrs(row) : {},
        columns.map((c) => el("td", { class: c.cls }, c.value(row))))))));
  }
  function card(title, ...content) {
    return el("section", { class: "card" }, title ? el("h2", {}, title) : null, ...content);
  }
  function badge(text, kind) { return el("span", { class: `badge badge-${kind || "grey"}` }, text); }
  function link(href, text) { return el("a", { href }, text); }
  function button(text, onclick, kind, attrs) {
    return el("button", { type: "button", class: `btn ${kind || ""}`, onclick, ...(attrs || {}) }, text);
  }
  function code(text) { return el("code", {}, text); }
  function notice(text, kind) { return el("div", { class: `notice notice-${kind || "info"}`, role: "note" }, text); }

  function toast(text, kind) {
    const node = el("div", { class: `toast toast-${kind || "ok"}`, role: "status" }, text);
    $("#toasts").append(node);
    while ($("#toasts").children.length > 3) $("#toasts").firstChild.remove();
    setTimeout(() => node.remove(), 5000);
  }

  function modal(title, body, actions) {
    return new Promise((resolve) => {
      const dlg = el("dialog", { class: "modal" });
      const close = (v) => { dlg.close(); dlg.remove(); resolve(v); };
      append(dlg, [el("h2", {}, title), el("div", { class: "modal-body" }, body),
        el("div", { class: "actions" }, (actions || [[t("common.close"), true, "primary"]]).map(
          ([label, value, kind]) => button(label, () => close(value), kind)))]);
      dlg.addEventListener("cancel", () => { dlg.remove(); resolve(false); });  // Esc
      document.body.append(dlg);
      dlg.showModal();
    });
  }
  const confirmModal = (title, text, okLabel, kind) =>
    modal(title, el("p", {}, text), [[t("common.cancel"), false, ""], [okLabel, true, kind || "danger"]]);

  // Show-once secrets (API keys, tokens, TOTP): a modal that says they are not shown again.
  function secretModal(title, items, extra) {
    return modal(title, [notice(t("common.shown_once"), "warn"), ...items.map(([label, value]) =>
      el("div", { class: "secret" }, el("label", {}, label),
        el("textarea", { readonly: true, rows: value.length > 80 ? 6 : 1, "data-secret": label, value }))), extra]);
  }

  // ---- the API --------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.code = (body && body.code) || "http_error";
      this.details = body && body.details;
    }
  }
  function explain(err) {
    if (!(err instanceof ApiError)) return String((err && err.message) || err);
    const key = `err.${err.code}`;
    const known = CATALOGS.en[key] !== undefined;
    return known ? `${t(key)} (${err.message})` : err.message;
  }
  // The server ends a session after 30 minutes without a request; the page then clears itself rather than
  // leave data on an unattended screen (accounts.service.SESSION_IDLE_TIMEOUT).
  const IDLE_MS = 30 * 60 * 1000;
  let lastCall = Date.now();
  setInterval(() => { if (me && Date.now() - lastCall > IDLE_MS) sessionEnded(); }, 15 * 1000);

  async function api(method, path, body) {
    lastCall = Date.now();
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    const r = await fetch(path, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    const isJson = (r.headers.get("content-type") || "").includes("json");
    const data = isJson ? await r.json() : await r.text();
    if (!r.ok) {
      const err = new ApiError(r.status, isJson ? data : { message: String(data).slice(0, 200) });
      if (r.status === 401 && me && path !== "/api/v1/auth/login") sessionEnded();
      throw err;
    }
    return data;
  }
  const enc = encodeURIComponent;
  const appPath = (appId) => `/api/v1/apps/${enc(appId)}`;

  function sessionEnded() {
    me = null;
    csrf = "";
    sessionStorage.removeItem("mb-csrf");
    loginNotice = t("login.expired");
    location.hash = "#/login";
    route();
  }

  // ---- forms: values, field errors ------------------------------------------------------------------------
  function field(name, label, input, hint) {
    input.setAttribute("name", name);
    if (!input.id) input.id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
    return el("div", { class: "field", "data-field": name },
      el("label", { for: input.id }, label), input, hint ? el("div", { class: "hint" }, hint) : null,
      el("div", { class: "field-error", role: "alert" }));
  }
  function form(fields, submitLabel, onsubmit, opts) {
    const f = el("form", { class: `form ${(opts && opts.cls) || ""}`, novalidate: true });
    const err = el("div", { class: "form-error", role: "alert" });
    const submit = el("button", { type: "submit", class: `btn ${(opts && opts.kind) || "primary"}` }, submitLabel);
    append(f, [fields, err, el("div", { class: "actions" }, submit, (opts && opts.extra) || null)]);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(f);
      submit.disabled = true;
      try {
        await onsubmit(values(f), f);
      } catch (e) {
        showErrors(f, e);
      } finally {
        submit.disabled = false;
      }
    });
    return f;
  }
  function values(f) {
    const out = {};
    for (const node of f.querySelectorAll("[name]")) {
      if (node.type === "checkbox") {
        if (!out[node.name]) out[node.name] = [];
        if (node.checked) out[node.name].push(node.value);
      } else out[node.name] = node.value;
    }
    return out;
  }
  function clearErrors(f) {
    for (const n of f.querySelectorAll(".field-error, .form-error")) n.textContent = "";
    for (const n of f.querySelectorAll(".field.invalid")) n.classList.remove("invalid");
  }
  function fieldError(f, name, message) {
    const box = f.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (!box) return false;
    box.classList.add("invalid");
    box.querySelector(".field-error").textContent = message;
    return true;
  }
  // Map an API error to the field it is about: pydantic `details[].loc`, or `details.field` / `details.list`.
  function showErrors(f, e) {
    let placed = false;
    if (e instanceof ApiError && Array.isArray(e.details)) {
      for (const d of e.details) {
        const loc = (d.loc || []).filter((x) => x !== "body" && !/^\d+$/.test(x));
        const name = loc[loc.length - 1];
        if (name && (fieldError(f, loc.join("."), d.msg) || fieldError(f, name, d.msg))) placed = true;
      }
    } else if (e instanceof ApiError && e.details && (e.details.field || e.details.list)) {
      placed = fieldError(f, e.details.field || e.details.list, explain(e));
    } else if (e instanceof ApiError && FIELD_OF_CODE[e.code]) {
      placed = FIELD_OF_CODE[e.code].split(" ").some((name) => fieldError(f, name, explain(e)));
    }
    f.querySelector(".form-error").textContent = placed ? t("form.fix_fields") : explain(e);
  }
  // Error codes that are about one field (the first of the names that the form has).
  const FIELD_OF_CODE = { weak_password: "new_password password", bad_credentials: "old_password password", totp_required: "totp",
    invalid_username: "username", username_taken: "username", invalid_app_id: "app_id", app_exists: "app_id",
    invalid_version: "version", version_exists: "version", build_not_newer: "version", comment_required: "comment",
    invalid_scope: "scopes", invalid_key: "public_key" };

  const input = (attrs) => el("input", { type: "text", ...attrs });
  const textarea = (attrs) => el("textarea", { rows: 3, ...attrs });
  function select(options, attrs) {
    return el("select", attrs || {}, options.map(([value, label]) => el("option", { value }, label)));
  }
  const lines = (text) => String(text || "").split(/[\n,]+/).map((s) => s.trim()).filter(Boolean);

  // ---- roles ---------------------------------------------------------------------------------------------
  // A copy of permissions.POLICY, used only to decide what to show; the server checks every call.
  const CAN = {
    "users.manage": ["admin"], "apps.manage": ["admin"], "hosts.manage": ["admin"], "hosts.read": ["admin", "operator"],
    "versions.upload": ["developer"], "versions.submit": ["developer"], "review.decide": ["reviewer"],
    "releases.manage": ["operator"], "audit.read": ["auditor"], "tokens.manage": ["developer"],
    "apps.read": ["admin", "developer", "reviewer", "operator"], "apps.protection": ["admin", "developer"],
  };
  const can = (action) => !!me && (CAN[action] || []).includes(me.role);
  const NAV = {
    admin: ["apps", "hosts", "users", "payments"], developer: ["apps", "reviews", "tokens"], reviewer: ["reviews", "apps"],
    operator: ["apps", "hosts", "payments"], auditor: ["audit"],
  };

  // ---- version state: uploaded, in review, approved, released to X%, rolled back, taken down -------------------
  function versionState(v, releases, app) {
    if (v.status === "check_failed") return [t("state.check_failed"), "red"];
    if (v.status === "checked") return [t("state.uploaded"), "grey"];
    if (v.status === "submitted") return [t("state.in_review"), "blue"];
    if (v.status === "rejected") return [t("state.rejected"), "red"];
    const mine = releases.filter((r) => r.version === v.version);
    const active = mine.filter((r) => r.active);
    const full = active.find((r) => r.kind !== "gray");
    if (full) return [full.kind === "rollback" ? t("state.released_rollback") : t("state.released_full"), "green"];
    const gray = active.find((r) => r.kind === "gray");
    if (gray) {
      const pct = gray.rules && gray.rules.percentage;
      return [pct != null ? t("state.released_pct", { pct }) : t("state.released_gray"), "amber"];
    }
    if (!mine.length) return [t("state.approved"), "teal"];
    const lastSeq = Math.max(...mine.map((r) => r.sequence));
    const myLast = mine.find((r) => r.sequence === lastSeq);
    const newest = Math.max(...releases.map((r) => r.sequence));
    const later = releases.filter((r) => r.sequence > lastSeq);
    if (app && app.taken_down && lastSeq === newest) return [t("state.taken_down"), "red"];
    if (later.some((r) => r.kind === "rollback" && r.version !== v.version)) return [t("state.rolled_back"), "purple"];
    // A stopped grayscale release: nothing after it, or only the base release re-issued because of the stop.
    const reissued = later.some((r) => (r.note || "").startsWith(`re-issued after release ${myLast.id} stopped`));
    if (myLast.kind === "gray" && (!later.length || reissued)) return [t("state.stopped"), "grey"];
    return [t("state.superseded"), "grey"];
  }
  function rulesText(rules) {
    if (!rules) return t("release.everyone");
    const parts = [];
    if (rules.percentage != null) parts.push(t("rules.pct", { pct: rules.percentage }));
    if (rules.users) parts.push(t("rules.users", { n: rules.users.length }));
    if (rules.hosts) parts.push(`${t("rules.hosts")}: ${rules.hosts.join(", ")}`);
    if (rules.regions) parts.push(`${t("rules.regions")}: ${rules.regions.join(", ")}`);
    if (rules.tags) parts.push(`${t("rules.tags")}: ${rules.tags.join(", ")}`);
    if (rules.start) parts.push(`${t("rules.from")} ${fmtDate(rules.start)}`);
    if (rules.end) parts.push(`${t("rules.until")} ${fmtDate(rules.end)}`);
    return parts.join(" · ");
  }

  // ---- views ---------------------------------------------------------------------------------------------
  function pageHead(title, sub, ...actions) {
    return el("div", { class: "page-head" }, el("div", {}, el("h1", {}, title), sub ? el("p", { class: "sub" }, sub) : null),
      el("div", { class: "actions" }, actions));
  }

  const views = {};

  views.apps = async () => {
    const apps = await api("GET", "/api/v1/apps");
    const withReleases = await Promise.all(apps.map(async (a) => {
      const releases = await api("GET", `${appPath(a.app_id)}/releases`).catch(() => []);
      return { ...a, active: releases.filter((r) => r.active) };
    }));
    const out = [pageHead(t("apps.title"), t("apps.sub"))];
    if (can("apps.manage")) {
      out.push(card(t("apps.create"), form([
        el("div", { class: "row" },
          field("app_id", t("apps.app_id"), input({ required: true, placeholder: "wallet", maxlength: 64 }), t("apps.app_id_hint")),
          field("name", t("apps.name"), input({ required: true, maxlength: 100 }))),
        field("description", t("apps.description"), textarea({ maxlength: 2000, rows: 2 })),
      ], t("apps.create_btn"), async (vals) => {
        const a = await api("POST", "/api/v1/apps", vals);
        toast(t("apps.created", { app: a.app_id }));
        location.hash = `#/apps/${enc(a.app_id)}`;
      })));
    }
    out.push(card(null, table([
      { label: t("apps.name"), value: (a) => link(`#/apps/${enc(a.app_id)}`, a.name) },
      { label: t("apps.app_id"), value: (a) => code(a.app_id) },
      { label: t("apps.live"), value: (a) => a.taken_down ? badge(t("state.taken_down"), "red")
        : a.active.length ? a.active.map((r) => badge(`${r.version} · ${r.kind === "gray" ? rulesText(r.rules) : t("release.everyone")}`,
          r.kind === "gray" ? "amber" : "green")) : badge(t("apps.not_released"), "grey") },
      { label: t("common.created"), value: (a) => fmtDate(a.created_at) },
    ], withReleases, { empty: t("apps.empty") })));
    return out;
  };

  views.app = async (appId, tab) => {
    const app = await api("GET", appPath(appId));
    const [versions, releases] = await Promise.all([api("GET", `${appPath(appId)}/versions`),
      api("GET", `${appPath(appId)}/releases`)]);
    const tabs = [["versions", t("app.tab.versions")], ["releases", t("app.tab.releases")],
      ["metrics", t("app.tab.metrics")], ["allowlist", t("app.tab.allowlist")], ["members", t("app.tab.members")]];
    tab = tab || "versions";
    const out = [
      el("nav", { class: "crumbs" }, link("#/apps", t("nav.apps")), " / ", app.app_id),
      pageHead(app.name, app.description || app.app_id,
        app.taken_down ? badge(`${t("state.taken_down")}: ${app.takedown_reason}`, "red") : null),
      el("div", { class: "tabs", role: "tablist" }, tabs.map(([id, label]) =>
        el("a", { href: `#/apps/${enc(appId)}/${id}`, class: id === tab ? "tab active" : "tab", role: "tab" }, label))),
    ];
    if (tab === "versions") out.push(...versionsTab(app, versions, releases));
    if (tab === "releases") out.push(...await releasesTab(app, versions, releases));
    if (tab === "allowlist") out.push(allowlistTab(app));
    if (tab === "members") out.push(await membersTab(app));
    if (tab === "metrics") out.push(...await metricsTab(app, versions));
    return out;
  };

  function versionsTab(app, versions, releases) {
    const out = [];
    if (can("versions.upload")) out.push(uploadCard(app, versions));
    out.push(protectionCard(app));
    out.push(card(t("app.versions"), table([
      { label: t("version.version"), value: (v) => link(`#/apps/${enc(app.app_id)}/v/${enc(v.version)}`, v.version) },
      { label: t("version.build"), value: (v) => String(v.build), cls: "num" },
      { label: t("version.state"), value: (v) => badge(...versionState(v, releases, app)) },
      { label: t("version.checks"), value: (v) => v.checks_passed ? badge(t("version.passed"), "green") : badge(t("version.failed"), "red") },
      { label: t("version.kind"), value: (v) => t(`version.kind.${v.kind}`) },
      { label: t("protect.col"), value: (v) => v.protected ? badge(t("protect.on"), "green") : t("protect.off") },
      { label: t("version.package_size"), value: (v) => fmtBytes(v.bundle_size), cls: "num" },
      { label: t("common.created"), value: (v) => fmtDate(v.created_at) },
    ], versions.slice().reverse(), { empty: t("app.no_versions"), rowAttrs: (v) => ({ "data-version": v.version }) })));
    return out;
  }

  // Code protection of the app's new uploads (an upload may say otherwise): hosts get logic.js minified with
  // names mangled; reviewers read the original; errors are mapped back with private source maps.
  function protectionCard(app) {
    const state = el("p", {}, badge(app.code_protection ? t("protect.on") : t("protect.off"),
      app.code_protection ? "green" : "grey"), " ", t(app.code_protection ? "protect.state_on" : "protect.state_off"));
    const toggle = can("apps.protection") ? button(app.code_protection ? t("protect.turn_off") : t("protect.turn_on"), async () => {
      try {
        await api("PUT", `${appPath(app.app_id)}/code-protection`, { enabled: !app.code_protection });
        toast(t(app.code_protection ? "protect.turned_off" : "protect.turned_on"));
        route();
      } catch (e) { toast(explain(e), "error"); }
    }, "", { class: "btn protect-toggle" }) : null;
    const c = card(t("protect.title"), state, el("p", { class: "muted" }, t("protect.explain")), toggle);
    c.classList.add("code-protection");
    return c;
  }

  function uploadCard(app, versions) {
    let file = null;
    const fileName = el("span", { class: "file-name" }, t("upload.none"));
    const picker = el("input", { type: "file", accept: ".zip,.mbx", class: "visually-hidden", id: "upload-file" });
    const zone = el("label", { class: "dropzone", for: "upload-file" },
      el("strong", {}, t("upload.drop")), el("span", {}, t("upload.or_click")), fileName, picker);
    const setFile = (f) => {
      file = f;
      fileName.textContent = f ? `${f.name} (${fmtBytes(f.size)})` : t("upload.none");
      if (f) kindSel.value = f.name.toLowerCase().endsWith(".mbx") ? "package" : "source";
    };
    picker.addEventListener("change", () => setFile(picker.files[0] || null));
    zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault();
      zone.classList.remove("over");
      setFile(ev.dataTransfer.files[0] || null);
    });
    const kindSel = select([["source", t("version.kind.source")], ["package", t("version.kind.package")]]);
    const protect = el("input", { type: "checkbox", class: "upload-protect", checked: !!app.code_protection });
    const progress = el("progress", { max: 100, value: 0, hidden: true, class: "upload-progress" });
    const status = el("span", { class: "upload-status", role: "status" });
    const compileErrors = el("div", { class: "compile-errors" });
    const last = versions.length ? versions[versions.length - 1].version : "";
    const f = form([
      zone,
      el("div", { class: "row" },
        field("version", t("version.version"), input({ required: true, placeholder: last ? `> ${last}` : "1.0.0" }), t("upload.version_hint")),
        field("kind", t("version.kind"), kindSel)),
      field("description", t("apps.description"), textarea({ rows: 2, maxlength: 2000 })),
      el("div", { class: "field" }, el("label", { class: "check" }, protect, ` ${t("upload.protect")}`),
        el("div", { class: "hint" }, t("upload.protect_hint"))),
      el("div", { class: "progress-row" }, progress, status), compileErrors,
    ], t("upload.btn"), async (vals) => {
      if (!file) throw new Error(t("upload.pick"));
      const data = new FormData();
      data.append("file", file);
      data.append("version", vals.version);
      data.append("kind", vals.kind);
      data.append("description", vals.description || "");
      data.append("protect", protect.checked ? "true" : "false");
      progress.hidden = false;
      progress.value = 0;
      compileErrors.replaceChildren();
      let v;
      try {
        v = await xhrUpload(`${appPath(app.app_id)}/versions`, data, (pct) => {
          progress.value = pct;
          status.textContent = pct < 100 ? t("upload.sending", { pct }) : t("upload.checking");
        });
      } catch (e) {
        status.textContent = "";
        progress.hidden = true;
        const errs = e instanceof ApiError && e.details && Array.isArray(e.details.errors) ? e.details.errors : [];
        if (errs.length) {
          compileErrors.replaceChildren(notice(t("upload.compile_errors"), "error"), table([
            { label: t("report.where"), value: (x) => code(x.location || `${x.file}:${x.line}:${x.column}`), cls: "where" },
            { label: t("report.message"), value: (x) => x.message },
          ], errs));
        }
        throw e;
      }
      status.textContent = "";
      toast(v.checks_passed ? t("upload.done_ok", { v: v.version }) : t("upload.done_failed", { v: v.version }),
        v.checks_passed ? "ok" : "warn");
      location.hash = `#/apps/${enc(app.app_id)}/v/${enc(v.version)}`;
    });
    return card(t("upload.title"), f);
  }

  function xhrUpload(path, data, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      lastCall = Date.now();
    xhr.open("POST", path);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (ev) => {
        if (ev.lengthComputable) onProgress(Math.round((ev.loaded / ev.total) * 100));
      });
      xhr.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { message: xhr.responseText.slice(0, 200) }; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else {
          if (xhr.status === 401) sessionEnded();
          reject(new ApiError(xhr.status, body));
        }
      });
      xhr.addEventListener("error", () => reject(new Error(t("err.network"))));
      xhr.send(data);
    });
  }

  views.version = async (appId, version) => {
    const base = `${appPath(appId)}/versions/${enc(version)}`;
    const [app, v, history, releases, versions] = await Promise.all([api("GET", appPath(appId)), api("GET", base),
      api("GET", `${base}/reviews`), api("GET", `${appPath(appId)}/releases`), api("GET", `${appPath(appId)}/versions`)]);
    const mineAt = versions.findIndex((x) => x.version === v.version);
    const previous = versions.slice(0, mineAt).reverse().find((x) => x.status === "approved");
    const [stateText, stateKind] = versionState(v, releases, app);
    const findings = (v.report && v.report.findings) || [];
    const errors = findings.filter((x) => x.severity === "error");
    const warnings = findings.filter((x) => x.severity !== "error");
    const where = (x) => x.file ? `${x.file}${x.line ? `:${x.line}` : ""}${x.column ? `:${x.column}` : ""}` : "—";
    let filesBox = null;
    const findingTable = (list, kind) => table([
      { label: t("report.where"), value: (x) => x.file ? el("a", { href: "#files", onclick: (ev) => {
        ev.preventDefault();
        if (filesBox && filesBox.openFile) filesBox.openFile(x.file, x.line);
      } }, code(where(x))) : code(where(x)), cls: "where" },
      { label: t("report.rule"), value: (x) => badge(x.rule, kind) },
      { label: t("report.message"), value: (x) => x.message },
    ], list, { empty: t("report.none") });
    const sizes = (v.report && v.report.sizes) || {};
    const protection = (v.report && v.report.protection) || null;
    const protectionText = !protection ? t("protect.off") : protection.error ? t("protect.failed")
      : t("protect.summary", { p: protection.protected, n: protection.modules,
        before: fmtBytes((protection.logic_bytes || {}).before), after: fmtBytes((protection.logic_bytes || {}).after) });
    const out = [
      el("nav", { class: "crumbs" }, link("#/apps", t("nav.apps")), " / ",
        link(`#/apps/${enc(appId)}`, app.app_id), " / ", version),
      pageHead(`${app.name} ${v.version}`, v.description, badge(stateText, stateKind)),
      el("div", { class: "grid2" },
        card(t("version.summary"), el("dl", { class: "kv" },
          el("dt", {}, t("version.state")), el("dd", {}, badge(stateText, stateKind)),
          el("dt", {}, t("version.build")), el("dd", {}, String(v.build)),
          el("dt", {}, t("version.kind")), el("dd", {}, t(`version.kind.${v.kind}`)),
          el("dt", {}, t("version.size")), el("dd", {}, `${fmtBytes(sizes.main)} / ${fmtBytes(sizes.total)}`),
          el("dt", {}, t("protect.title")), el("dd", { class: "protection" },
            v.protected ? badge(t("protect.on"), "green") : null, v.protected ? " " : null, protectionText),
          el("dt", {}, "SHA-256"), el("dd", {}, code(v.bundle_sha256)),
          el("dt", {}, t("common.created")), el("dd", {}, fmtDate(v.created_at)))),
        await actionsCard(app, v, history)),
      card(t("report.title"), el("p", {}, v.checks_passed ? badge(t("report.passed"), "green")
        : badge(t("report.failed", { n: errors.length }), "red"), " ", t("report.counts", { e: errors.length, w: warnings.length })),
      el("h3", {}, t("report.errors")), el("div", { class: "report-errors" }, findingTable(errors, "red")),
      el("h3", {}, t("report.warnings")), el("div", { class: "report-warnings" }, findingTable(warnings, "amber"))),
      card(t("review.history"), table([
        { label: t("common.when"), value: (e) => fmtDate(e.at) },
        { label: t("review.action"), value: (e) => t(`review.action.${e.action}`) },
        { label: t("common.who"), value: (e) => e.actor },
        { label: t("review.comment"), value: (e) => e.comment },
      ], history, { empty: t("review.no_history") })),
      previous ? await diffCard(appId, previous, v) : null,
      filesBox = await filesCard(appId, version, v.kind),
    ];
    return out;
  };

  async function actionsCard(app, v, history) {
    const base = `${appPath(app.app_id)}/versions/${enc(v.version)}`;
    const body = [];
    const submitters = history.filter((e) => e.action === "submit").map((e) => e.actor);
    body.push(el("p", { class: "sod" }, t("sod.explain")));
    if (can("versions.submit")) {
      if (v.status === "checked") {
        body.push(form([field("comment", t("review.comment"), textarea({ rows: 2, maxlength: 4000 }))], t("review.submit"),
          async (vals) => {
            await api("POST", `${base}/submit`, { comment: vals.comment || "" });
            toast(t("review.submitted"));
            route();
          }));
      } else if (v.status === "check_failed") {
        body.push(notice(t("review.cannot_submit_failed"), "error"));
      }
      if (v.status === "submitted") body.push(notice(t("sod.developer"), "info"));
    }
    if (can("review.decide")) {
      if (v.status === "submitted") {
        const own = me.user_id === v.uploaded_by || submitters.includes(me.username);
        if (own) body.push(notice(t("sod.own"), "warn"));
        let decision = "approve";
        body.push(form([field("comment", t("review.comment"), textarea({ rows: 3, maxlength: 4000 }), t("review.comment_hint"))],
          t("review.approve"), async (vals) => {
            await api("POST", `${base}/${decision}`, { comment: vals.comment || "" });
            toast(decision === "approve" ? t("review.approved") : t("review.rejected"));
            route();
          }, { kind: "primary", extra: el("button", { type: "submit", class: "btn danger", "data-decision": "reject",
            onclick: () => { decision = "reject"; } }, t("review.reject")), cls: "decide" }));
        const approveBtn = body[body.length - 1].querySelector("button[type=submit]:not([data-decision])");
        approveBtn.addEventListener("click", () => { decision = "approve"; });
      } else {
        body.push(el("p", { class: "muted" }, t("review.not_submitted")));
      }
    }
    if (can("releases.manage") && v.status === "approved") {
      body.push(el("p", {}, link(`#/apps/${enc(app.app_id)}/releases`, t("release.go"))));
    }
    return card(t("version.actions"), body);
  }

  // ---- the diff against the previous approved version (what the reviewer reads) -------------------------
  const MAX_DIFF_FILES = 300;
  const MAX_DIFF_CELLS = 4e6;
  function lineDiff(a, b) {
    // Common prefix and suffix, then an LCS table on the middle; null when too large to show.
    let pre = 0;
    while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
    let suf = 0;
    while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
    const x = a.slice(pre, a.length - suf);
    const y = b.slice(pre, b.length - suf);
    if ((x.length + 1) * (y.length + 1) > MAX_DIFF_CELLS) return null;
    const w = y.length + 1;
    const L = new Uint32Array((x.length + 1) * w);
    for (let i = x.length - 1; i >= 0; i--) {
      for (let j = y.length - 1; j >= 0; j--) {
        L[i * w + j] = x[i] === y[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
      }
    }
    const out = [];
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) { out.push([" ", x[i], pre + i + 1]); i++; j++; }
      else if (i < x.length && (j === y.length || L[(i + 1) * w + j] >= L[i * w + j + 1])) { out.push(["-", x[i], pre + i + 1]); i++; }
      else { out.push(["+", y[j], pre + j + 1]); j++; }
    }
    return out;
  }
  function diffView(ops) {
    if (!ops) return el("p", { class: "muted" }, t("diff.too_large"));
    const rows = [];
    ops.forEach((op, k) => {  // changed lines with two lines of context
      const near = ops.slice(Math.max(0, k - 2), k + 3).some((o) => o[0] !== " ");
      if (op[0] !== " " || near) rows.push(el("div", { class: op[0] === "+" ? "diff-add" : op[0] === "-" ? "diff-del" : "diff-ctx" },
        el("span", { class: "ln" }, String(op[2])), `${op[0]} ${op[1]}`));
      else if (rows.length && rows[rows.length - 1].className !== "diff-gap") rows.push(el("div", { class: "diff-gap" }, "⋯"));
    });
    return el("div", { class: "diff code-diff" }, rows);
  }
  async function diffCard(appId, previous, v) {
    const which = v.kind === "source" && previous.kind === "source" ? "source" : "bundle";
    const files = (ver) => api("GET", `${appPath(appId)}/versions/${enc(ver)}/files?which=${which}`);
    const text = async (ver, path) => {
      const r = await fetch(`${appPath(appId)}/versions/${enc(ver)}/files/${path.split("/").map(enc).join("/")}?which=${which}`,
        { credentials: "same-origin" });
      return r.ok ? r.text() : "";
    };
    let before;
    let after;
    try { [before, after] = await Promise.all([files(previous.version), files(v.version)]); } catch (e) {
      return card(t("diff.title", { v: previous.version }), el("p", { class: "muted" }, explain(e)));
    }
    const old = new Map(before.map((f) => [f.path, f]));
    const now = new Map(after.map((f) => [f.path, f]));
    const paths = [...new Set([...old.keys(), ...now.keys()])].sort().slice(0, MAX_DIFF_FILES);
    const changes = [];
    for (const path of paths) {
      if (!old.has(path)) changes.push({ path, kind: "added" });
      else if (!now.has(path)) changes.push({ path, kind: "removed" });
      else {
        const [a, b] = await Promise.all([text(previous.version, path), text(v.version, path)]);
        if (a !== b) changes.push({ path, kind: "changed", a, b });
      }
    }
    const viewer = el("div", { class: "diff-viewer" });
    const show = async (c) => {
      const a = c.kind === "added" ? "" : (c.a ?? await text(previous.version, c.path));
      const b = c.kind === "removed" ? "" : (c.b ?? await text(v.version, c.path));
      viewer.replaceChildren(el("h3", {}, c.path), diffView(lineDiff(a.split("\n"), b.split("\n"))));
    };
    const kinds = { added: "green", removed: "red", changed: "amber" };
    const list = el("ul", { class: "file-list" }, changes.map((c) => el("li", {},
      badge(t(`diff.${c.kind}`), kinds[c.kind]), el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); show(c); } }, c.path))));
    if (changes.length) show(changes[0]);
    return card(t("diff.title", { v: previous.version }), el("p", { class: "muted" }, t("diff.summary", { n: changes.length, which: t(`diff.which.${which}`) })),
      changes.length ? el("div", { class: "files diff-files" }, list, viewer) : el("p", { class: "empty" }, t("diff.none")));
  }

  async function filesCard(appId, version, kind) {
    const which = kind === "source" ? "source" : "bundle";
    const base = `${appPath(appId)}/versions/${enc(version)}/files`;
    let files = [];
    try { files = await api("GET", `${base}?which=${which}`); } catch (e) { return card(t("files.title"), el("p", { class: "muted" }, explain(e))); }
    const viewer = el("div", { class: "file-view", hidden: true });
    // Shown as text with line numbers (never rendered); `line` is highlighted and scrolled to (from the report).
    const open = async (path, line) => {
      const r = await fetch(`${base}/${path.split("/").map(enc).join("/")}?which=${which}`, { credentials: "same-origin" });
      const body = r.ok ? await r.text() : `${r.status}`;
      const rows = body.split("\n").map((text, i) => el("div", { class: i + 1 === line ? "hl" : null },
        el("span", { class: "ln" }, String(i + 1)), text));
      viewer.replaceChildren(el("h3", {}, path), el("pre", {}, rows));
      viewer.hidden = false;
      const target = viewer.querySelector(".hl");
      if (target) target.scrollIntoView({ block: "center" });
    };
    const c = card(t("files.title"), el("div", { class: "files" },
      el("ul", { class: "file-list" }, files.map((x) => el("li", {}, el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); open(x.path); } }, x.path),
        el("span", { class: "muted" }, ` ${fmtBytes(x.size)}`)))), viewer));
    c.id = "files";
    c.openFile = (path, line) => (files.some((x) => x.path === path) ? open(path, line) : null);
    return c;
  }

  async function releasesTab(app, versions, releases) {
    const out = [];
    const approved = versions.filter((v) => v.status === "approved");
    const active = releases.filter((r) => r.active);
    out.push(card(t("release.current"), active.length ? table([
      { label: t("version.version"), value: (r) => r.version },
      { label: t("release.kind"), value: (r) => badge(t(`release.kind.${r.kind}`), r.kind === "gray" ? "amber" : "green") },
      { label: t("release.audience"), value: (r) => rulesText(r.rules) },
      { label: t("guard.title"), value: (r) => guardCell(r) },
      { label: t("version.build"), value: (r) => String(r.build), cls: "num" },
      { label: t("common.when"), value: (r) => fmtDate(r.created_at) },
      { label: "", value: (r) => can("releases.manage") && r.kind === "gray" ? button(t("release.stop"), async () => {
        if (!await confirmModal(t("release.stop"), t("release.stop_confirm", { v: r.version }), t("release.stop"))) return;
        try { await api("POST", `${appPath(app.app_id)}/releases/${r.id}/stop`); toast(t("release.stopped")); route(); } catch (e) { toast(explain(e), "error"); }
      }, "danger small") : null },
    ], active) : el("p", { class: "empty" }, app.taken_down ? t("release.none_taken_down", { reason: app.takedown_reason }) : t("release.none"))));
    if (can("releases.manage")) {
      out.push(card(t("release.new"), app.taken_down ? notice(t("release.taken_down_explain"), "warn") : null,
        approved.length ? releaseForm(app, approved, await liveHosts()) : el("p", { class: "empty" }, t("release.no_approved"))));
      const released = [...new Set(releases.map((r) => r.version))].filter((ver) => approved.some((v) => v.version === ver));
      out.push(el("div", { class: "grid2" },
        card(t("release.rollback"), released.length ? form([
          field("version", t("release.rollback_to"), select(released.map((x) => [x, x]))),
          field("note", t("release.note"), input({ maxlength: 500 })),
        ], t("release.rollback_btn"), async (vals) => {
          if (!await confirmModal(t("release.rollback"), t("release.rollback_confirm", { v: vals.version }), t("release.rollback_btn"), "primary")) return;
          await api("POST", `${appPath(app.app_id)}/rollback`, vals);
          toast(t("release.rolled_back", { v: vals.version }));
          route();
        }, { kind: "primary", cls: "rollback" }) : el("p", { class: "empty" }, t("release.no_rollback"))),
        app.taken_down ? null : card(t("release.takedown"), el("p", { class: "muted" }, t("release.takedown_explain")), form([
          field("reason", t("release.reason"), textarea({ rows: 2, maxlength: 500, required: true })),
        ], t("release.takedown_btn"), async (vals) => {
          if (!vals.reason.trim()) { fieldError($("form.takedown"), "reason", t("form.required")); return; }
          if (!await confirmModal(t("release.takedown"), t("release.takedown_confirm", { app: app.app_id }), t("release.takedown_btn"))) return;
          await api("POST", `${appPath(app.app_id)}/takedown`, { reason: vals.reason });
          toast(t("release.taken_down"));
          route();
        }, { kind: "danger", cls: "takedown" }))));
    }
    out.push(card(t("release.history"), table([
      { label: "#", value: (r) => String(r.sequence), cls: "num" },
      { label: t("version.version"), value: (r) => r.version },
      { label: t("release.kind"), value: (r) => t(`release.kind.${r.kind}`) },
      { label: t("release.audience"), value: (r) => rulesText(r.rules) },
      { label: t("version.build"), value: (r) => String(r.build), cls: "num" },
      { label: t("release.status"), value: (r) => r.active ? badge(t("release.active"), "green")
        : r.guard_state && r.guard_state.decision === "fail"
          ? el("div", { class: "guard-stopped" }, badge(t("guard.stopped_by"), "red"),
            el("div", { class: "muted guard-reasons" }, guardReasons(r.guard_state, r.guard || {}).join("; ")))
          : badge(t("release.ended"), "grey") },
      { label: t("release.note"), value: (r) => r.note },
      { label: t("common.when"), value: (r) => fmtDate(r.created_at) },
    ], releases.slice().reverse(), { empty: t("release.none") })));
    return out;
  }

  // The host apps a grayscale rule can name (null: this user may not list them). Fetched while the page is
  // drawn, so the form does not grow under the user's pointer after it appears.
  async function liveHosts() {
    if (!can("hosts.read")) return null;
    try { return (await api("GET", "/api/v1/hosts")).filter((h) => !h.revoked); } catch (e) { return null; }
  }

  function releaseForm(app, approved, hosts) {
    // A taken-down app comes back with a full release (or a rollback) only: the server refuses a gray one.
    const mode = select(app.taken_down ? [["full", t("release.mode.full")]]
      : [["gray", t("release.mode.gray")], ["full", t("release.mode.full")]]);
    const pct = input({ type: "number", min: 0, max: 100, step: "0.01", placeholder: "10" });
    const range = el("input", { type: "range", min: 0, max: 100, step: 1, value: 0, "aria-label": t("rules.percentage") });
    range.addEventListener("input", () => { pct.value = range.value; preview(); });
    pct.addEventListener("input", () => { range.value = pct.value || 0; preview(); });
    const hostBox = el("div", { class: "checks" });
    if (hosts) {
      append(hostBox, hosts.length ? hosts.map((h) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: "hosts", value: h.host_id, onchange: preview }), ` ${h.name} (${h.host_id})`))
        : [el("span", { class: "muted" }, t("hosts.empty"))]);
    }
    const summary = el("p", { class: "rule-preview", role: "status" });
    const ruleFields = el("fieldset", { class: "rules" }, el("legend", {}, t("rules.title")),
      el("div", { class: "row" }, field("percentage", t("rules.percentage"), pct, t("rules.percentage_hint")), el("div", { class: "field" }, el("label", {}, " "), range)),
      field("users", t("rules.user_list"), textarea({ rows: 2, placeholder: "user-1\nuser-2", oninput: preview }), t("rules.user_hint")),
      field("hosts", t("rules.hosts"), hostBox),
      el("div", { class: "row" },
        field("regions", t("rules.regions"), input({ placeholder: "cn-sh, cn-bj", oninput: preview })),
        field("tags", t("rules.tags"), input({ placeholder: "staff, beta", oninput: preview }))),
      el("div", { class: "row" },
        field("start", t("rules.start"), input({ type: "datetime-local", onchange: preview })),
        field("end", t("rules.end"), input({ type: "datetime-local", onchange: preview }))),
      el("p", { class: "hint" }, t("rules.tz", { tz })),
      guardFields());
    let f = null;
    function collect() {
      const vals = values(f);
      const rules = {};
      if (vals.percentage !== "") rules.percentage = Number(vals.percentage);
      for (const k of ["users", "regions", "tags"]) if (lines(vals[k]).length) rules[k] = lines(vals[k]);
      if (vals.hosts && vals.hosts.length) rules.hosts = vals.hosts;
      for (const k of ["start", "end"]) if (vals[k]) rules[k] = new Date(vals[k]).toISOString();
      return rules;
    }
    function preview() {
      if (!f) return;
      ruleFields.hidden = mode.value !== "gray";
      const rules = collect();
      summary.textContent = mode.value === "gray"
        ? (Object.keys(rules).length ? t("rules.preview", { text: rulesText(rules) }) : t("rules.empty"))
        : t("release.full_explain");
    }
    mode.addEventListener("change", preview);
    f = form([
      el("div", { class: "row" },
        field("version", t("version.version"), select(approved.slice().reverse().map((v) => [v.version, `${v.version} (build ${v.build})`]))),
        field("mode", t("release.mode"), mode)),
      ruleFields, summary,
      field("note", t("release.note"), input({ maxlength: 500 })),
    ], t("release.btn"), async (vals) => {
      const body = { version: vals.version, note: vals.note || "" };
      if (vals.mode === "gray") {
        const rules = collect();
        if (rules.percentage !== undefined && !(rules.percentage >= 0 && rules.percentage <= 100)) {
          fieldError(f, "percentage", t("rules.bad_pct"));
          return;
        }
        if (!Object.keys(rules).length) { fieldError(f, "percentage", t("rules.empty")); return; }
        body.rules = rules;
        if ((vals.guard_on || []).length) {
          const g = { max_error_ratio: Number(vals["guard.max_error_ratio"]),
            min_crash_free: Number(vals["guard.min_crash_free"]) / 100, min_sessions: Number(vals["guard.min_sessions"]) };
          let bad = false;
          if (!(g.max_error_ratio >= 1 && g.max_error_ratio <= 100)) bad = fieldError(f, "guard.max_error_ratio", t("guard.bad_ratio"));
          if (!(g.min_crash_free >= 0 && g.min_crash_free <= 1)) bad = fieldError(f, "guard.min_crash_free", t("guard.bad_crash_free"));
          if (!(Number.isInteger(g.min_sessions) && g.min_sessions >= 1)) bad = fieldError(f, "guard.min_sessions", t("guard.bad_sessions"));
          if (bad) { f.querySelector(".form-error").textContent = t("form.fix_fields"); return; }
          body.guard = g;
        }
      }
      let what = vals.mode === "gray" ? rulesText(body.rules) : t("release.everyone");
      if (body.guard) {
        what += ` · ${t("guard.title")}: ${t("guard.summary", { ratio: body.guard.max_error_ratio, crash: fmtPct(body.guard.min_crash_free),
          n: body.guard.min_sessions, base: t("guard.full_release") })}`;
      }
      if (!await confirmModal(t("release.new"), t("release.confirm", { v: vals.version, what }), t("release.btn"), "primary")) return;
      await api("POST", `${appPath(app.app_id)}/releases`, body);
      toast(t("release.released", { v: vals.version }));
      route();
    }, { cls: "release" });
    preview();
    return f;
  }

  // ---- the rollout guard of a grayscale release --------------------------------------------------------------
  function guardFields() {
    const on = el("input", { type: "checkbox", name: "guard_on", value: "1", class: "guard-on" });
    const inputs = el("div", { class: "guard-inputs", hidden: true }, el("div", { class: "row" },
      field("guard.max_error_ratio", t("guard.max_error_ratio"), input({ type: "number", min: 1, max: 100, step: "0.1", value: "1.5" }),
        t("guard.max_error_ratio_hint")),
      field("guard.min_crash_free", t("guard.min_crash_free"), input({ type: "number", min: 0, max: 100, step: "0.01", value: "99.5" }),
        t("guard.min_crash_free_hint")),
      field("guard.min_sessions", t("guard.min_sessions"), input({ type: "number", min: 1, step: "1", value: "500" }),
        t("guard.min_sessions_hint"))));
    on.addEventListener("change", () => { inputs.hidden = !on.checked; });
    return el("fieldset", { class: "guard" }, el("legend", {}, t("guard.title")),
      el("label", { class: "check" }, on, ` ${t("guard.enable")}`),
      el("p", { class: "hint" }, t("guard.explain")), inputs);
  }
  function fmtPct(x, digits) { return x == null ? "–" : `${(x * 100).toFixed(digits == null ? 2 : digits)}%`; }
  function guardCell(r) {
    if (!r.guard) return r.kind === "gray" ? el("span", { class: "muted" }, t("guard.none")) : "";
    const g = r.guard;
    const text = t("guard.summary", { ratio: g.max_error_ratio, crash: fmtPct(g.min_crash_free), n: g.min_sessions, base: g.baseline });
    const st = r.guard_state;
    const kind = !st ? "grey" : st.decision === "fail" ? "red" : st.decision === "pass" ? "green" : "amber";
    return el("div", { class: "guard-cell" }, el("div", {}, text),
      badge(st ? t(`guard.decision.${st.decision}`) : t("guard.pending"), kind),
      st && st.decision === "wait" ? el("div", { class: "muted" }, t("guard.wait_reason", { n: st.new.sessions, min: g.min_sessions })) : null,
      st && st.decision === "fail" ? el("div", { class: "muted guard-reasons" }, guardReasons(st, g).join("; ")) : null,
      st ? el("div", { class: "muted" }, t("guard.checked", { when: fmtDate(st.checked_at) })) : null);
  }

  // Why a guard failed, in the console's language: from the figures the guard recorded (its English reasons
  // are the audit log's and the webhook's).
  function guardReasons(st, g) {
    const out = [];
    const n = st.new || {}, o = st.old || {};
    const ratio = g.max_error_ratio == null ? 1.5 : g.max_error_ratio;
    const minCrashFree = g.min_crash_free == null ? 0.995 : g.min_crash_free;
    if ((n.error_rate || 0) > ratio * (o.error_rate || 0)) {
      out.push(t("guard.reason.error_rate", { rate: fmtPct(n.error_rate || 0), version: n.version || st.version, ratio,
        base: fmtPct(o.error_rate || 0), baseline: o.version || st.baseline }));
    }
    if ((n.crash_free || 0) < minCrashFree) {
      out.push(t("guard.reason.crash_free", { rate: fmtPct(n.crash_free || 0), version: n.version || st.version,
        min: fmtPct(minCrashFree) }));
    }
    return out.length ? out : st.reasons || [];
  }

  // ---- metrics: figures and charts of one app (SVG built in the page) -----------------------------------------
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    for (const c of children.flat(Infinity)) if (c != null && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  const fmtNum = (n) => (n == null ? "–" : new Intl.NumberFormat(lang).format(n));
  function fmtDay(day) {  // a UTC day of the rollups, "YYYY-MM-DD"
    return new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));
  }
  // A line chart: one polyline per series over the days, y from 0 to the largest value.
  function lineChart(title, days, series, fmtY) {
    const W = 560, H = 200, L = 48, R = 12, T = 12, B = 28;
    const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter((v) => v != null)));
    const x = (i) => L + (days.length > 1 ? (i * (W - L - R)) / (days.length - 1) : (W - L - R) / 2);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const grid = [0, 0.5, 1].map((q) => [svg("line", { x1: L, x2: W - R, y1: y(max * q), y2: y(max * q), class: "grid" }),
      svg("text", { x: L - 6, y: y(max * q) + 4, class: "axis", "text-anchor": "end" }, (fmtY || fmtNum)(max * q))]);
    const step = Math.max(1, Math.ceil(days.length / 7));
    const xs = days.map((d, i) => (i % step === 0 ? svg("text", { x: x(i), y: H - 8, class: "axis", "text-anchor": "middle" }, fmtDay(d)) : null));
    const lines = series.map((s, k) => svg("g", { class: `series s${k}` },
      svg("polyline", { points: s.values.map((v, i) => (v == null ? null : `${x(i)},${y(v)}`)).filter(Boolean).join(" "), fill: "none" }),
      s.values.map((v, i) => v == null ? null : svg("circle", { cx: x(i), cy: y(v), r: 3 }, svg("title", {}, `${s.label} · ${fmtDay(days[i])}: ${(fmtY || fmtNum)(v)}`)))));
    return chartBox(title, svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title }, grid, xs, lines), series);
  }
  // Grayscale reach: per day, the share of the day's users on each version, as stacked bars.
  function reachChart(title, reach, versions) {
    const W = 560, H = 200, L = 48, R = 12, T = 12, B = 28;
    const bw = (W - L - R) / Math.max(1, reach.length);
    const y = (q) => T + (H - T - B) * (1 - q);
    const grid = [0, 0.5, 1].map((q) => [svg("line", { x1: L, x2: W - R, y1: y(q), y2: y(q), class: "grid" }),
      svg("text", { x: L - 6, y: y(q) + 4, class: "axis", "text-anchor": "end" }, fmtPct(q, 0))]);
    const step = Math.max(1, Math.ceil(reach.length / 7));
    const bars = reach.map((r, i) => {
      const total = Object.values(r.users).reduce((a, b) => a + b, 0) || 1;
      let acc = 0;
      return svg("g", {}, versions.map((v, k) => {
        const share = (r.users[v] || 0) / total;
        const rect = svg("rect", { x: L + i * bw + 1, width: Math.max(1, bw - 2), y: y(acc + share), height: (H - T - B) * share, class: `bar s${k}` },
          svg("title", {}, `${v} · ${fmtDay(r.day)}: ${fmtPct(share, 1)} (${fmtNum(r.users[v] || 0)})`));
        acc += share;
        return share ? rect : null;
      }), i % step === 0 ? svg("text", { x: L + i * bw + bw / 2, y: H - 8, class: "axis", "text-anchor": "middle" }, fmtDay(r.day)) : null);
    });
    return chartBox(title, svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart reach", role: "img", "aria-label": title }, grid, bars),
      versions.map((v) => ({ label: v })));
  }
  function chartBox(title, chart, series) {
    return card(title, chart, el("div", { class: "legend" }, series.map((s, k) => el("span", { class: `key s${k}` }, s.label))));
  }
  function stat(label, value, cls) {
    return el("div", { class: `stat ${cls || ""}` }, el("div", { class: "stat-value" }, value), el("div", { class: "stat-label" }, label));
  }

  async function metricsTab(app, versions) {
    const q = new URLSearchParams(location.hash.split("?")[1] || "");
    const days = Number(q.get("days")) || 7;
    const version = q.get("version") || "";
    const until = new Date();
    const since = new Date(until.getTime() - days * 86400000);
    const params = new URLSearchParams({ from: since.toISOString(), to: until.toISOString() });
    if (version) params.set("version", version);
    const m = await api("GET", `${appPath(app.app_id)}/metrics?${params}`);
    const go = (d, v) => { location.hash = `#/apps/${enc(app.app_id)}/metrics?days=${d}${v ? `&version=${enc(v)}` : ""}`; };
    const rangeSel = select([[1, t("metrics.range.1")], [7, t("metrics.range.7")], [30, t("metrics.range.30")], [90, t("metrics.range.90")]],
      { "aria-label": t("metrics.range"), class: "metrics-range", value: String(days), onchange: (ev) => go(ev.target.value, version) });
    const known = [...new Set([...versions.map((v) => v.version), ...Object.keys(m.versions)])];
    const verSel = select([["", t("metrics.all_versions")], ...known.map((v) => [v, v])],
      { "aria-label": t("version.version"), class: "metrics-version", value: version, onchange: (ev) => go(days, ev.target.value) });
    const out = [el("div", { class: "metrics-bar" }, el("label", {}, t("metrics.range"), " ", rangeSel), el("label", {}, t("version.version"), " ", verSel),
      el("span", { class: "muted" }, t("metrics.period", { from: fmtDate(m.from), to: fmtDate(m.to), tz })))];
    out.push(el("div", { class: "stats" },
      stat(t("metrics.active_users"), fmtNum(m.active_users), "m-users"),
      stat(t("metrics.launches"), fmtNum(m.launches), "m-launches"),
      stat(t("metrics.sessions"), fmtNum(m.sessions), "m-sessions"),
      stat(t("metrics.error_rate"), fmtPct(m.error_rate), "m-error-rate"),
      stat(t("metrics.crash_free"), fmtPct(m.crash_free), "m-crash-free"),
      stat(t("metrics.p50"), m.launch_ms.p50 == null ? "–" : `${fmtNum(m.launch_ms.p50)} ms`, "m-p50"),
      stat(t("metrics.p95"), m.launch_ms.p95 == null ? "–" : `${fmtNum(m.launch_ms.p95)} ms`, "m-p95")));
    if (!m.series.length && !m.reach.length) {
      out.push(card(t("metrics.title"), el("p", { class: "empty" }, t("metrics.empty"))));
      return out;
    }
    const dayList = [...new Set(m.series.map((r) => r.day))].sort();
    const sum = (d, key) => m.series.filter((r) => r.day === d).reduce((a, r) => a + r[key], 0);
    const vers = Object.keys(m.versions).sort();
    out.push(el("div", { class: "grid2" },
      lineChart(t("metrics.chart.activity"), dayList, [
        { label: t("metrics.launches"), values: dayList.map((d) => sum(d, "launches")) },
        { label: t("metrics.errors"), values: dayList.map((d) => sum(d, "errors")) }]),
      lineChart(t("metrics.chart.error_rate"), dayList, vers.map((v) => ({ label: v, values: dayList.map((d) => {
        const r = m.series.find((x) => x.day === d && x.version === v);
        return r && r.sessions ? r.error_sessions / r.sessions : null;
      }) })), (v) => fmtPct(v, 1)),
      reachChart(t("metrics.chart.reach"), m.reach, [...new Set(m.reach.flatMap((r) => Object.keys(r.users)))].sort())));
    out.push(card(t("metrics.by_version"), table([
      { label: t("version.version"), value: (v) => v },
      { label: t("metrics.active_users"), value: (v) => fmtNum(m.versions[v].active_users), cls: "num" },
      { label: t("metrics.launches"), value: (v) => fmtNum(m.versions[v].launches), cls: "num" },
      { label: t("metrics.sessions"), value: (v) => fmtNum(m.versions[v].sessions), cls: "num" },
      { label: t("metrics.error_rate"), value: (v) => fmtPct(m.versions[v].error_rate), cls: "num" },
      { label: t("metrics.crash_free"), value: (v) => fmtPct(m.versions[v].crash_free), cls: "num" },
    ], vers, { empty: t("metrics.empty") })));
    out.push(card(t("metrics.top_errors"), table([
      { label: t("metrics.error"), value: (e) => el("details", { class: "error-stack" }, el("summary", {}, e.message),
        el("pre", {}, (e.stack || []).join("\n"))) },
      { label: t("metrics.location"), value: (e) => e.mapped
        ? el("span", { title: t("metrics.reported_at", { loc: e.reported_location }) }, code(e.location), " ",
          badge(t("metrics.mapped"), "grey"))
        : code(e.location) },
      { label: t("metrics.count"), value: (e) => fmtNum(e.count), cls: "num" },
      { label: t("metrics.first_version"), value: (e) => e.first_version },
      { label: t("metrics.first_seen"), value: (e) => fmtDate(e.first_seen) },
      { label: t("metrics.last_seen"), value: (e) => fmtDate(e.last_seen) },
    ], m.top_errors, { empty: t("metrics.no_errors") })));
    out.push(card(t("metrics.api_calls"), table([
      { label: t("metrics.api"), value: (c) => code(c.api) },
      { label: t("metrics.outcome"), value: (c) => badge(t(`metrics.outcome.${c.outcome}`), c.outcome === "granted" ? "green" : c.outcome === "denied" ? "amber" : "red") },
      { label: t("metrics.count"), value: (c) => fmtNum(c.count), cls: "num" },
    ], m.api_calls, { empty: t("metrics.no_api_calls") })));
    return out;
  }

  const ALLOW_KEYS = ["request", "socket", "uploadFile", "downloadFile", "webView", "hostApis"];
  // The names the platform accepts in an app's privacy settings (minibox.policy.permissions SCOPES and
  // REQUIRED_PRIVATE_INFOS_APIS; a test keeps these lists equal to the server's).
  const PRIVACY_NAMES = {
    scopes: ["scope.userInfo", "scope.userLocation", "scope.userFuzzyLocation", "scope.userLocationBackground",
      "scope.address", "scope.invoiceTitle", "scope.invoice", "scope.werun", "scope.record",
      "scope.writePhotosAlbum", "scope.camera", "scope.bluetooth", "scope.phoneNumber"],
    infos: ["getLocation", "getFuzzyLocation", "onLocationChange", "startLocationUpdate",
      "startLocationUpdateBackground", "chooseLocation", "choosePoi", "chooseAddress"],
  };
  function allowlistTab(app) {
    const current = app.allowlist || {};
    const editable = can("apps.manage");
    const boxes = {};
    const fields = ALLOW_KEYS.map((k) => {
      boxes[k] = textarea({ rows: 3, readonly: !editable, value: (current[k] || []).join("\n"),
        placeholder: k === "hostApis" ? "getUserInfo" : k === "socket" ? "wss://ws.example.com" : "https://api.example.com" });
      return field(k, t(`allow.${k}`), boxes[k], t(k === "hostApis" ? "allow.hint_api" : "allow.hint_domain"));
    });
    // the watermark the host draws over every page of the app, and the scopes / privacy infos it may ask for
    const wmInput = el("input", { type: "text", maxlength: 200, readonly: !editable, value: current.watermark || "",
      placeholder: "{user} · {app} · {date}" });
    const restrict = el("input", { type: "checkbox", name: "privacy", checked: !!current.privacy, disabled: !editable });
    const picks = { scopes: {}, infos: {} };
    const groups = Object.keys(PRIVACY_NAMES).map((kind) => {
      const chosen = new Set((current.privacy && current.privacy[kind]) || []);
      return el("fieldset", { class: "rules field", "data-field": `privacy.${kind}` },
        el("legend", {}, t(`allow.privacy_${kind}`)),
        el("div", { class: "checks" }, PRIVACY_NAMES[kind].map((n) => {
          picks[kind][n] = el("input", { type: "checkbox", name: `privacy.${kind}`, value: n, checked: chosen.has(n),
            disabled: !editable });
          return el("label", { class: "check" }, picks[kind][n], ` ${n} — ${t(`privacy.${kind}.${n}`)}`);
        })),
        el("div", { class: "field-error", role: "alert" }));
    });
    const groupBox = el("div", { class: "privacy-groups", hidden: !current.privacy }, groups);
    restrict.addEventListener("change", () => { groupBox.hidden = !restrict.checked; });
    const policyCard = el("div", { class: "allow-policy" },
      el("h3", {}, t("allow.watermark_title")),
      field("watermark", t("allow.watermark"), wmInput, t("allow.hint_watermark")),
      el("h3", {}, t("allow.privacy_title")),
      el("div", { class: "field", "data-field": "privacy" },
        el("label", { class: "check" }, restrict, ` ${t("allow.privacy_restrict")}`),
        el("div", { class: "hint" }, t("allow.hint_privacy")), el("div", { class: "field-error", role: "alert" })),
      groupBox);
    const diffBox = el("div", { class: "diff", hidden: true });
    let reviewed = null;
    const proposed = () => {
      const next = Object.fromEntries(ALLOW_KEYS.map((k) => [k, lines(boxes[k].value)]));
      if (current.dataForms) next.dataForms = current.dataForms;  // not edited here: kept as it is
      if (current.retention) next.retention = current.retention;
      next.watermark = wmInput.value.trim();
      next.privacy = restrict.checked ? Object.fromEntries(Object.keys(PRIVACY_NAMES).map((kind) =>
        [kind, PRIVACY_NAMES[kind].filter((n) => picks[kind][n].checked)])) : null;
      return next;
    };
    const showDiff = () => {
      const next = proposed();
      const rows = [];
      const add = (label, x) => rows.push(el("div", { class: "diff-add" }, `+ ${label}: ${x}`));
      const del = (label, x) => rows.push(el("div", { class: "diff-del" }, `- ${label}: ${x}`));
      for (const k of ALLOW_KEYS) {
        const before = new Set(current[k] || []);
        const after = new Set(next[k]);
        for (const x of after) if (!before.has(x)) add(k, x);
        for (const x of before) if (!after.has(x)) del(k, x);
      }
      if ((current.watermark || "") !== next.watermark) {
        if (current.watermark) del("watermark", current.watermark);
        if (next.watermark) add("watermark", next.watermark);
      }
      const was = current.privacy || null;
      if (!was && next.privacy) add("privacy", t("allow.privacy_on"));
      if (was && !next.privacy) del("privacy", t("allow.privacy_on"));
      for (const kind of Object.keys(PRIVACY_NAMES)) {
        const before = new Set((was && was[kind]) || []);
        const after = new Set((next.privacy && next.privacy[kind]) || []);
        for (const x of after) if (!before.has(x)) add(`privacy.${kind}`, x);
        for (const x of before) if (!after.has(x)) del(`privacy.${kind}`, x);
      }
      diffBox.replaceChildren(el("h3", {}, t("allow.diff")), ...(rows.length ? rows : [el("p", { class: "muted" }, t("allow.no_change"))]));
      diffBox.hidden = false;
      reviewed = rows.length ? JSON.stringify(next) : null;
      saveBtn.disabled = !reviewed;
    };
    const invalidate = () => { saveBtn.disabled = true; diffBox.hidden = true; reviewed = null; };
    const saveBtn = el("button", { type: "submit", class: "btn primary", disabled: true }, t("allow.save"));
    const f = el("form", { class: "form allowlist", novalidate: true }, el("div", { class: "grid2" }, fields),
      policyCard, diffBox, el("div", { class: "form-error", role: "alert" }),
      editable ? el("div", { class: "actions" }, button(t("allow.review"), showDiff, ""), saveBtn) : notice(t("allow.readonly")));
    f.addEventListener("input", invalidate);
    f.addEventListener("change", invalidate);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(f);
      if (!reviewed) return;
      try {
        await api("PUT", `${appPath(app.app_id)}/allowlist`, JSON.parse(reviewed));
        toast(t("allow.saved"));
        route();
      } catch (e) { showErrors(f, e); }
    });
    return card(t("app.tab.allowlist"), el("p", { class: "muted" }, t("allow.explain")), f);
  }

  async function membersTab(app) {
    const members = await api("GET", `${appPath(app.app_id)}/members`);
    const out = [table([
      { label: t("users.username"), value: (m) => m.username },
      { label: "", value: (m) => can("apps.manage") ? button(t("members.remove"), async () => {
        try { await api("DELETE", `${appPath(app.app_id)}/members/${m.user_id}`); route(); } catch (e) { toast(explain(e), "error"); }
      }, "small") : null },
    ], members, { empty: t("members.none") })];
    if (can("apps.manage")) {
      const devs = (await api("GET", "/api/v1/users")).filter((u) => u.role === "developer" && !u.disabled
        && !members.some((m) => m.user_id === u.id));
      out.push(devs.length ? form([field("user_id", t("members.developer"), select(devs.map((u) => [String(u.id), u.username])))],
        t("members.add"), async (vals) => {
          await api("POST", `${appPath(app.app_id)}/members`, { user_id: Number(vals.user_id) });
          toast(t("members.added"));
          route();
        }, { cls: "inline" }) : el("p", { class: "muted" }, t("members.no_devs")));
    }
    return card(t("app.tab.members"), el("p", { class: "muted" }, t("members.explain")), out);
  }

  views.reviews = async () => {
    const queue = await api("GET", "/api/v1/reviews");
    return [pageHead(t("reviews.title"), t("reviews.sub")), card(null, table([
      { label: t("nav.apps"), value: (q) => q.app_id },
      { label: t("version.version"), value: (q) => link(`#/apps/${enc(q.app_id)}/v/${enc(q.version)}`, q.version) },
      { label: t("version.checks"), value: (q) => q.checks_passed ? badge(t("version.passed"), "green") : badge(t("version.failed"), "red") },
      { label: t("apps.description"), value: (q) => q.description },
      { label: t("common.created"), value: (q) => fmtDate(q.created_at) },
    ], queue, { empty: t("reviews.empty") }))];
  };

  views.hosts = async () => {
    const hosts = await api("GET", "/api/v1/hosts");
    const out = [pageHead(t("hosts.title"), t("hosts.sub"))];
    if (can("hosts.manage")) {
      out.push(card(t("hosts.register"), form([
        field("name", t("hosts.name"), input({ required: true, maxlength: 100 })),
        field("public_key", t("hosts.public_key"), textarea({ rows: 2 }), t("hosts.public_key_hint")),
      ], t("hosts.register_btn"), async (vals, f) => {
        const body = { name: vals.name };
        if (vals.public_key.trim()) body.public_key = vals.public_key.trim();
        const h = await api("POST", "/api/v1/hosts", body);
        f.reset();
        const items = [[t("hosts.host_id"), h.host_id], [t("hosts.api_key"), h.api_key]];
        if (h.private_key_pem) items.push([t("hosts.private_key"), h.private_key_pem]);
        await secretModal(t("hosts.registered"), items);
        route();
      })));
    }
    out.push(card(null, table([
      { label: t("hosts.name"), value: (h) => link(`#/hosts/${enc(h.host_id)}`, h.name) },
      { label: t("hosts.host_id"), value: (h) => code(h.host_id) },
      { label: t("hosts.fingerprint"), value: (h) => code(h.key_fingerprint.slice(0, 16)) },
      { label: t("hosts.status"), value: (h) => h.revoked ? badge(t("hosts.revoked"), "red") : badge(t("hosts.active"), "green") },
      { label: t("common.created"), value: (h) => fmtDate(h.created_at) },
    ], hosts, { empty: t("hosts.empty") })));
    return out;
  };

  views.host = async (hostId) => {
    const h = await api("GET", `/api/v1/hosts/${enc(hostId)}`);
    const hp = `/api/v1/hosts/${enc(hostId)}`;
    const out = [el("nav", { class: "crumbs" }, link("#/hosts", t("nav.hosts")), " / ", h.host_id),
      pageHead(h.name, h.host_id, h.revoked ? badge(t("hosts.revoked"), "red") : badge(t("hosts.active"), "green")),
      card(t("hosts.keys"), el("dl", { class: "kv" },
        el("dt", {}, t("hosts.fingerprint")), el("dd", {}, code(h.key_fingerprint)),
        el("dt", {}, t("hosts.public_key")), el("dd", {}, code(h.public_key)),
        el("dt", {}, t("common.created")), el("dd", {}, fmtDate(h.created_at))),
      can("hosts.manage") && !h.revoked ? el("div", { class: "actions" },
        button(t("hosts.rotate_api"), async () => {
          if (!await confirmModal(t("hosts.rotate_api"), t("hosts.rotate_api_confirm"), t("hosts.rotate_api"))) return;
          try { const r = await api("POST", `${hp}/api-key`); await secretModal(t("hosts.rotate_api"), [[t("hosts.api_key"), r.api_key]]); } catch (e) { toast(explain(e), "error"); }
        }, ""),
        button(t("hosts.revoke"), async () => {
          if (!await confirmModal(t("hosts.revoke"), t("hosts.revoke_confirm", { host: h.name }), t("hosts.revoke"))) return;
          try { await api("POST", `${hp}/revoke`); toast(t("hosts.revoked")); route(); } catch (e) { toast(explain(e), "error"); }
        }, "danger")) : null)];
    if (can("hosts.manage") && !h.revoked) {
      out.push(card(t("hosts.rotate_enc"), el("p", { class: "muted" }, t("hosts.rotate_enc_explain")), form([
        field("public_key", t("hosts.public_key"), textarea({ rows: 2, required: true })),
      ], t("hosts.rotate_enc_btn"), async (vals) => {
        await api("PUT", `${hp}/public-key`, { public_key: vals.public_key.trim() });
        toast(t("hosts.key_rotated"));
        route();
      })));
    }
    const grantBody = [table([
      { label: t("apps.app_id"), value: (a) => code(a) },
      { label: "", value: (a) => can("hosts.manage") ? button(t("hosts.ungrant"), async () => {
        try { await api("DELETE", `${hp}/apps/${enc(a)}`); route(); } catch (e) { toast(explain(e), "error"); }
      }, "small") : null },
    ], h.apps, { empty: t("hosts.no_apps") })];
    if (can("hosts.manage")) {
      const apps = (await api("GET", "/api/v1/apps")).filter((a) => !h.apps.includes(a.app_id));
      if (apps.length) {
        grantBody.push(form([field("app_id", t("hosts.grant_app"), select(apps.map((a) => [a.app_id, `${a.name} (${a.app_id})`])))],
          t("hosts.grant"), async (vals) => {
            await api("POST", `${hp}/apps`, { app_id: vals.app_id });
            toast(t("hosts.granted"));
            route();
          }, { cls: "inline" }));
      }
    }
    out.push(card(t("hosts.apps"), grantBody));
    return out;
  };

  function totpBlock(u) {
    if (!u.totp_secret) return null;
    const box = el("div", { class: "totp" });
    if (u.totp_qr_svg) {
      const doc = new DOMParser().parseFromString(u.totp_qr_svg, "image/svg+xml");
      const svg = doc.documentElement;
      if (svg && svg.nodeName === "svg" && !svg.querySelector("script, foreignObject")) box.append(document.importNode(svg, true));
    }
    append(box, [el("p", {}, t("users.totp_scan")), el("p", {}, t("users.totp_secret"), " ", el("code", { "data-testid": "totp-secret" }, u.totp_secret))]);
    return box;
  }

  views.users = async () => {
    const users = await api("GET", "/api/v1/users");
    const roles = ["admin", "developer", "reviewer", "operator", "auditor"];
    return [pageHead(t("users.title"), t("users.sub")),
      card(t("users.create"), form([
        el("div", { class: "row" },
          field("username", t("users.username"), input({ required: true, maxlength: 64, autocomplete: "off" }), t("users.username_hint")),
          field("role", t("users.role"), select(roles.map((r) => [r, t(`role.${r}`)]), { value: "developer" }))),
        field("password", t("users.initial_password"), input({ type: "password", required: true, autocomplete: "new-password" }), t("users.password_hint")),
      ], t("users.create_btn"), async (vals, f) => {
        const u = await api("POST", "/api/v1/users", vals);
        f.reset();
        toast(t("users.created", { u: u.username }));
        if (u.totp_secret) await modal(t("users.totp_title", { u: u.username }), [notice(t("common.shown_once"), "warn"), totpBlock(u)]);
        route();
      })),
      card(null, table([
        { label: t("users.username"), value: (u) => u.username },
        { label: t("users.role"), value: (u) => u.id === me.user_id ? t(`role.${u.role}`) : select(roles.map((r) => [r, t(`role.${r}`)]), {
          value: u.role, "aria-label": t("users.role"), onchange: async (ev) => {
            try {
              const r = await api("PATCH", `/api/v1/users/${u.id}`, { role: ev.target.value });
              toast(t("users.updated"));
              if (r.totp_secret) await modal(t("users.totp_title", { u: u.username }), [notice(t("common.shown_once"), "warn"), totpBlock(r)]);
            } catch (e) { toast(explain(e), "error"); }
            route();
          } }) },
        { label: "TOTP", value: (u) => u.totp_enrolled ? badge(t("users.totp_on"), "green") : badge(t("users.totp_off"), "grey") },
        { label: t("hosts.status"), value: (u) => u.disabled ? badge(t("users.disabled"), "red") : badge(t("users.enabled"), "green") },
        { label: t("common.created"), value: (u) => fmtDate(u.created_at) },
        { label: "", value: (u) => u.id === me.user_id ? el("span", { class: "muted" }, t("users.self")) : button(u.disabled ? t("users.enable") : t("users.disable"), async () => {
          try { await api("PATCH", `/api/v1/users/${u.id}`, { disabled: !u.disabled }); toast(t("users.updated")); route(); } catch (e) { toast(explain(e), "error"); }
        }, "small") },
      ], users, { rowAttrs: (u) => ({ "data-user": u.username }) }))];
  };

  views.tokens = async () => {
    const tokens = await api("GET", "/api/v1/tokens");
    const scopes = ["apps:read", "versions:upload", "versions:submit"];
    return [pageHead(t("tokens.title"), t("tokens.sub")),
      card(t("tokens.create"), form([
        el("div", { class: "row" },
          field("name", t("tokens.name"), input({ required: true, maxlength: 100, placeholder: "ci" })),
          field("expires_in_days", t("tokens.expiry"), input({ type: "number", min: 1, max: 365, value: "90" }), t("tokens.expiry_hint"))),
        field("scopes", t("tokens.scopes"), el("div", { class: "checks" }, scopes.map((s) =>
          el("label", { class: "check" }, el("input", { type: "checkbox", name: "scopes", value: s }), ` ${s} — ${t(`scope.${s}`)}`)))),
      ], t("tokens.create_btn"), async (vals, f) => {
        const r = await api("POST", "/api/v1/tokens", { name: vals.name, scopes: vals.scopes, expires_in_days: Number(vals.expires_in_days) });
        f.reset();
        await secretModal(t("tokens.created"), [[t("tokens.token"), r.token]]);
        route();
      })),
      card(null, table([
        { label: t("tokens.name"), value: (x) => x.name },
        { label: t("tokens.scopes"), value: (x) => x.scopes.map((s) => badge(s, "blue")) },
        { label: t("common.created"), value: (x) => fmtDate(x.created_at) },
        { label: t("tokens.expires"), value: (x) => fmtDate(x.expires_at) },
        { label: t("hosts.status"), value: (x) => x.revoked ? badge(t("tokens.revoked"), "red")
          : (x.expires_at && new Date(x.expires_at) < new Date()) ? badge(t("tokens.expired"), "grey") : badge(t("hosts.active"), "green") },
        { label: "", value: (x) => x.revoked ? null : button(t("tokens.revoke"), async () => {
          try { await api("DELETE", `/api/v1/tokens/${x.id}`); route(); } catch (e) { toast(explain(e), "error"); }
        }, "small danger") },
      ], tokens, { empty: t("tokens.empty") }))];
  };

  const AUDIT_PAGE = 50;
  const auditState = { filters: {}, cursors: [] };
  views.audit = async () => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(auditState.filters)) if (v) q.set(k, v);
    const before = auditState.cursors[auditState.cursors.length - 1];
    if (before) q.set("before", before); else q.set("before", 2 ** 31 - 1);
    q.set("limit", AUDIT_PAGE);
    const entries = await api("GET", `/api/v1/audit?${q}`);
    const verifyBox = el("div", { class: "verify", role: "status" });
    const dateIn = (name) => input({ type: "date", value: auditState.filters[`${name}_day`] || "" });
    const filterForm = form([el("div", { class: "row row5" },
      field("actor", t("audit.actor"), input({ value: auditState.filters.actor || "", placeholder: "user:alice" })),
      field("action", t("audit.action"), input({ value: auditState.filters.action || "", placeholder: "release." })),
      field("target", t("audit.target"), input({ value: auditState.filters.target || "", placeholder: "app:wallet" })),
      field("since_day", t("audit.since"), dateIn("since")),
      field("until_day", t("audit.until"), dateIn("until")))],
    t("audit.filter"), async (vals) => {
      const f = { actor: vals.actor, action: vals.action, target: vals.target, since_day: vals.since_day, until_day: vals.until_day };
      // Days are the user's local days: midnight here, sent as an instant with its offset.
      if (vals.since_day) f.since = new Date(`${vals.since_day}T00:00:00`).toISOString();
      if (vals.until_day) { const d = new Date(`${vals.until_day}T00:00:00`); d.setDate(d.getDate() + 1); f.until = d.toISOString(); }
      auditState.filters = f;
      auditState.cursors = [];
      route();
    }, { cls: "filters", extra: button(t("audit.clear"), () => { auditState.filters = {}; auditState.cursors = []; route(); }, "") });
    const apiFilters = new URLSearchParams();
    for (const k of ["actor", "action", "target", "since", "until"]) if (auditState.filters[k]) apiFilters.set(k, auditState.filters[k]);
    const exportHref = (fmt) => `/api/v1/audit/export?${apiFilters}${apiFilters.toString() ? "&" : ""}format=${fmt}`;
    return [pageHead(t("audit.title"), t("audit.sub"),
      el("a", { class: "btn", href: exportHref("jsonl"), download: "audit.jsonl" }, t("audit.export_jsonl")),
      el("a", { class: "btn", href: exportHref("csv"), download: "audit.csv" }, t("audit.export_csv")),
      button(t("audit.verify"), async () => {
        verifyBox.replaceChildren(t("audit.verifying"));
        try {
          const r = await api("GET", "/api/v1/audit/verify");
          verifyBox.replaceChildren(r.ok ? notice(t("audit.verified", { n: r.entries, c: r.checkpoints }), "ok")
            : notice([t("audit.broken", { seq: r.first_bad_seq }), el("ul", {}, r.problems.map((p) => el("li", {}, p)))], "error"));
        } catch (e) { verifyBox.replaceChildren(notice(explain(e), "error")); }
      }, "primary")),
    verifyBox, card(null, filterForm), card(null, table([
      { label: "#", value: (e) => String(e.seq), cls: "num" },
      { label: t("common.when"), value: (e) => fmtDate(e.ts), cls: "when" },
      { label: t("audit.actor"), value: (e) => e.actor },
      { label: t("audit.action_col"), value: (e) => code(e.action) },
      { label: t("audit.target"), value: (e) => e.target },
      { label: t("audit.outcome"), value: (e) => badge(e.outcome, e.outcome === "ok" ? "green" : "red") },
      { label: t("audit.details"), value: (e) => el("span", { class: "details" }, JSON.stringify(e.details)) },
    ], entries, { empty: t("audit.empty"), rowAttrs: (e) => ({ "data-seq": String(e.seq) }) }),
    el("div", { class: "pager" },
      button(t("audit.newer"), () => { auditState.cursors.pop(); route(); }, "", { disabled: !auditState.cursors.length }),
      el("span", { class: "muted" }, t("audit.page", { n: auditState.cursors.length + 1 })),
      button(t("audit.older"), () => { auditState.cursors.push(entries[entries.length - 1].seq); route(); }, "",
        { disabled: entries.length < AUDIT_PAGE })))];
  };

  // ---- payments: one payment's steps by order id, for a dispute ---------------------------------------------
  const paymentState = { order: "" };
  views.payments = async () => {
    const out = el("div", { class: "payment-result", role: "status" });
    const lookup = form([field("order", t("pay.order"), input({ value: paymentState.order, placeholder: "wx…", maxlength: 64 }))],
      t("pay.lookup"), async (vals) => {
        paymentState.order = (vals.order || "").trim();
        if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(paymentState.order)) { fieldError(lookup, "order", t("pay.bad_order")); return; }
        route();
      }, { cls: "filters" });
    if (paymentState.order) {
      try {
        const r = await api("GET", `/api/v1/payments/${encodeURIComponent(paymentState.order)}`);
        out.append(card(t("pay.order_title", { order: r.order_id }), [
          el("p", {}, t("pay.where", { app: r.app_id, host: r.host_id, version: r.version })),
          table([
            { label: t("common.when"), value: (x) => fmtDate(x.at), cls: "when" },
            { label: t("pay.step"), value: (x) => code(x.step) },
            { label: t("pay.detail"), value: (x) => el("span", { class: "details" }, JSON.stringify(
              Object.fromEntries(Object.entries(x).filter(([k]) => !["at", "step", "host_id"].includes(k))))) },
          ], r.steps, { empty: t("pay.none") }),
          el("a", { class: "btn", href: `/api/v1/payments/${encodeURIComponent(r.order_id)}?download=true`,
                    download: `payment-${r.order_id}.json` }, t("pay.export"))]));
      } catch (e) {
        out.append(notice(e instanceof ApiError && e.status === 404 ? t("pay.not_found") : explain(e), "error"));
      }
    }
    return [pageHead(t("pay.title"), t("pay.sub")), card(null, lookup), out];
  };

  views.account = async () => [
    pageHead(t("account.title"), `${me.username} · ${t(`role.${me.role}`)}`),
    el("div", { class: "grid2" },
      card(t("account.language"), form([
        field("locale", t("account.language"), select([["en", "English"], ["zh-CN", "简体中文"]], { value: lang })),
      ], t("common.save"), async (vals) => {
        await setLang(vals.locale, true);
        toast(t("account.saved"));
      })),
      card(t("account.password"), form([
        field("old_password", t("account.old_password"), input({ type: "password", autocomplete: "current-password", required: true })),
        field("new_password", t("account.new_password"), input({ type: "password", autocomplete: "new-password", required: true }), t("users.password_hint")),
        field("confirm", t("account.confirm"), input({ type: "password", autocomplete: "new-password", required: true })),
      ], t("account.change"), async (vals, f) => {
        if (vals.new_password !== vals.confirm) { fieldError(f, "confirm", t("account.mismatch")); return; }
        await api("POST", "/api/v1/me/password", { old_password: vals.old_password, new_password: vals.new_password });
        f.reset();
        toast(t("account.changed"));
      }))),
    card(t("account.session"), el("p", {}, t("account.session_explain")), el("p", { class: "muted" }, t("account.tz", { tz }))),
  ];

  // ---- login ----------------------------------------------------------------------------------------------
  function loginView() {
    const f = form([
      field("username", t("login.username"), input({ autocomplete: "username", required: true, autofocus: true })),
      field("password", t("login.password"), input({ type: "password", autocomplete: "current-password", required: true })),
      field("totp", t("login.totp"), input({ inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: 6 }), t("login.totp_hint")),
    ], t("login.submit"), async (vals) => {
      const body = { username: vals.username, password: vals.password };
      if (vals.totp) body.totp = vals.totp;
      if (vals.totp && !/^[0-9]{6}$/.test(vals.totp)) throw Object.assign(new ApiError(422, { code: "invalid_request", message: t("login.totp_format") }), { details: { field: "totp" } });
      const r = await api("POST", "/api/v1/auth/login", body);
      csrf = r.csrf_token;
      sessionStorage.setItem("mb-csrf", csrf);
      loginNotice = "";
      await start(r.user.locale);
      location.hash = "#/";
    }, { cls: "login-form" });
    return el("div", { class: "login-page" }, el("div", { class: "login-card" },
      el("div", { class: "brand big" }, el("img", { src: "/console/logo.svg", alt: "" }), el("span", {}, "minibox")),
      el("h1", {}, t("login.title")), loginNotice ? notice(loginNotice, "warn") : null, f,
      el("div", { class: "login-foot" }, langSwitch(), link("/docs", t("nav.api_docs")))));
  }

  function langSwitch() {
    return select([["en", "English"], ["zh-CN", "简体中文"]], { value: lang, class: "lang", "aria-label": "Language / 语言",
      onchange: (ev) => setLang(ev.target.value, !!me) });
  }
  async function setLang(value, persist) {
    if (!LANGS.includes(value)) return;
    if (persist) await api("PATCH", "/api/v1/me/preferences", { locale: value });
    lang = value;
    localStorage.setItem("mb-lang", lang);
    document.documentElement.lang = lang;
    document.title = t("app.title");
    route();
  }

  // ---- shell and routing ---------------------------------------------------------------------------------------
  function shell(active) {
    const nav = (NAV[me.role] || []).map((id) => el("a", { href: `#/${id}`, class: id === active ? "active" : "" }, t(`nav.${id}`)));
    nav.push(el("a", { href: "#/account", class: active === "account" ? "active" : "" }, t("nav.account")));
    const logout = button(t("nav.logout"), async () => {
      try { await api("POST", "/api/v1/auth/logout"); } catch (e) { /* already ended */ }
      me = null;
      csrf = "";
      sessionStorage.removeItem("mb-csrf");
      loginNotice = t("login.logged_out");
      location.hash = "#/login";
      route();
    }, "ghost", { id: "logout" });
    const main = el("main", { id: "view", class: "content" });
    const root = el("div", { class: "layout" },
      el("header", { class: "topbar" }, el("a", { class: "brand", href: "#/" }, el("img", { src: "/console/logo.svg", alt: "" }), el("span", {}, t("app.title"))),
        el("div", { class: "spacer" }), langSwitch(),
        el("span", { id: "who", class: "who" }, `${me.username} (${me.role})`), logout),
      el("aside", { class: "sidebar" }, el("nav", { id: "tabs" }, nav), el("div", { class: "side-foot" }, link("/docs", t("nav.api_docs")))),
      main);
    return [root, main];
  }

  function parseHash() {
    const parts = location.hash.split("?")[0].replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
    return parts;
  }

  let routing = 0;
  async function route() {
    const my = ++routing;
    document.body.dataset.busy = "1";  // while a page is drawn (tests wait for it to go)
    try { await draw(my); } finally { if (my === routing) delete document.body.dataset.busy; }
  }
  async function draw(my) {
    const parts = parseHash();
    const appRoot = $("#app");
    if (!me) {
      appRoot.replaceChildren(loginView());
      document.body.classList.add("is-login");
      return;
    }
    document.body.classList.remove("is-login");
    if (!parts.length || parts[0] === "login") {
      location.replace(`#/${(NAV[me.role] || ["account"])[0]}`);
      return;
    }
    const [section, id, sub, sub2] = parts;
    const [root, main] = shell(section === "apps" || section === "hosts" ? section : section);
    appRoot.replaceChildren(root);
    main.append(el("div", { class: "loading" }, t("common.loading")));
    let content;
    try {
      if (section === "apps" && id && sub === "v" && sub2) content = await views.version(id, sub2);
      else if (section === "apps" && id) content = await views.app(id, sub);
      else if (section === "hosts" && id) content = await views.host(id);
      else if (views[section] && section !== "app" && section !== "version" && section !== "host") content = await views[section]();
      else content = [pageHead(t("err.not_found"), location.hash)];
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      content = [pageHead(e instanceof ApiError && e.status === 403 ? t("err.refused_title") : t("err.title"), ""),
        notice(explain(e), "error")];
    }
    if (my !== routing) return;
    main.replaceChildren(...[content].flat().filter((x) => x !== null && x !== undefined && x !== false));
  }

  async function start(serverLocale) {
    try { me = await api("GET", "/api/v1/me"); } catch (e) { me = null; }
    if (me) {
      const chosen = serverLocale || me.locale;  // the user's stored choice; none yet: the browser's
      if (LANGS.includes(chosen)) { lang = chosen; localStorage.setItem("mb-lang", lang); }
    }
    document.documentElement.lang = lang;
    document.title = t("app.title");
  }

  document.addEventListener("DOMContentLoaded", async () => {
    window.addEventListener("hashchange", route);
    await start();
    route();
  });
})();
