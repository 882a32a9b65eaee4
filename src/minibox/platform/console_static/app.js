// minibox platform console: a thin client of the JSON API. Every node is built with createElement and
// textContent (submitted text is never parsed as HTML); state-changing calls carry the CSRF token from the login answer.
"use strict";
(function () {
  let csrf = sessionStorage.getItem("mb-csrf") || "";
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "onclick") node.addEventListener("click", v); else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
    return node;
  }

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    const r = await fetch(path, { method, headers, credentials: "same-origin",
                                  body: body === undefined ? undefined : JSON.stringify(body) });
    const data = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
    if (!r.ok) throw new Error(`${r.status} ${data.code || ""}: ${data.message || data}`);
    return data;
  }

  function show(error) { $("error").textContent = error ? String(error.message || error) : ""; }

  function table(columns, rows) {
    return el("table", {}, el("tr", {}, ...columns.map((c) => el("th", {}, c[0]))),
      ...rows.map((row) => el("tr", {}, ...columns.map((c) => el("td", {}, c[1](row))))));
  }

  const TABS = {
    admin: ["Apps", "Hosts", "Users"], developer: ["Apps"], reviewer: ["Review queue", "Apps"],
    operator: ["Apps", "Hosts"], auditor: ["Audit"],
  };

  const views = {
    async "Apps"() {
      const apps = await api("GET", "/api/v1/apps");
      const view = el("div", {}, el("h2", {}, "Apps"));
      for (const a of apps) {
        const versions = await api("GET", `/api/v1/apps/${encodeURIComponent(a.app_id)}/versions`);
        const releases = await api("GET", `/api/v1/apps/${encodeURIComponent(a.app_id)}/releases`).catch(() => []);
        view.append(el("h3", {}, `${a.name} (${a.app_id})${a.taken_down ? " - taken down" : ""}`),
          table([["Version", (v) => v.version], ["Build", (v) => v.build], ["Status", (v) => v.status],
                 ["Checks", (v) => (v.checks_passed ? "passed" : "failed")]], versions),
          table([["Release", (r) => r.id], ["Version", (r) => r.version], ["Kind", (r) => r.kind],
                 ["Build", (r) => r.build], ["Active", (r) => (r.active ? "yes" : "no")],
                 ["Rules", (r) => (r.rules ? JSON.stringify(r.rules) : "")]], releases));
      }
      return view;
    },
    async "Review queue"() {
      const queue = await api("GET", "/api/v1/reviews");
      const act = (q, verb) => async () => {
        const comment = prompt(`${verb} ${q.app_id} ${q.version}: comment`) || "";
        try { await api("POST", `/api/v1/apps/${encodeURIComponent(q.app_id)}/versions/${encodeURIComponent(q.version)}/${verb}`, { comment }); render("Review queue"); } catch (e) { show(e); }
      };
      return el("div", {}, el("h2", {}, "Waiting for review"),
        table([["App", (q) => q.app_id], ["Version", (q) => q.version], ["Uploaded by", (q) => q.uploaded_by],
               ["", (q) => el("span", {}, el("button", { onclick: act(q, "approve") }, "Approve"),
                                     el("button", { onclick: act(q, "reject") }, "Reject"))]], queue));
    },
    async "Hosts"() {
      const hosts = await api("GET", "/api/v1/hosts");
      return el("div", {}, el("h2", {}, "Host apps"),
        table([["Host", (h) => h.host_id], ["Name", (h) => h.name], ["Key", (h) => h.key_fingerprint.slice(0, 16)],
               ["Revoked", (h) => (h.revoked ? "yes" : "no")]], hosts));
    },
    async "Users"() {
      const users = await api("GET", "/api/v1/users");
      return el("div", {}, el("h2", {}, "Users"),
        table([["User", (u) => u.username], ["Role", (u) => u.role], ["TOTP", (u) => (u.totp_enrolled ? "yes" : "no")],
               ["Disabled", (u) => (u.disabled ? "yes" : "no")]], users));
    },
    async "Audit"() {
      const verdict = await api("GET", "/api/v1/audit/verify");
      const entries = await api("GET", "/api/v1/audit?limit=500");
      return el("div", {}, el("h2", {}, "Audit log"),
        el("p", {}, verdict.ok ? `Chain verified: ${verdict.entries} entries.` : `TAMPERED at entry ${verdict.first_bad_seq}`),
        table([["#", (e) => e.seq], ["Time", (e) => e.ts], ["Actor", (e) => e.actor], ["Action", (e) => e.action],
               ["Target", (e) => e.target], ["Outcome", (e) => e.outcome]], entries.reverse()));
    },
  };

  async function render(name) {
    show("");
    try { $("view").replaceChildren(await views[name]()); } catch (e) { show(e); }
  }

  async function start() {
    let me;
    try { me = await api("GET", "/api/v1/me"); } catch (e) { return; }
    $("login").hidden = true;
    $("logout").hidden = false;
    $("who").textContent = `${me.username} (${me.role})`;
    const tabs = TABS[me.role] || [];
    $("tabs").replaceChildren(...tabs.map((t) => el("button", { onclick: () => render(t) }, t)));
    $("tabs").hidden = false;
    if (tabs.length) render(tabs[0]);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const body = { username: f.get("username"), password: f.get("password") };
      if (f.get("totp")) body.totp = f.get("totp");
      try {
        const r = await api("POST", "/api/v1/auth/login", body);
        csrf = r.csrf_token;
        sessionStorage.setItem("mb-csrf", csrf);
        ev.target.reset();
        start();
      } catch (e) { show(e); }
    });
    $("logout").addEventListener("click", async () => {
      try { await api("POST", "/api/v1/auth/logout"); } catch (e) { /* already gone */ }
      sessionStorage.removeItem("mb-csrf");
      location.reload();
    });
    start();
  });
})();
