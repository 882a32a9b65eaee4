// Test-only: glass-easel-template-compiler (WeChat's current open-source template compiler) diagnostics.
// Usage: node oracle_glass_easel.js jobs.json   (jobs: [{files: {path: wxml}}]) -> [[diagnostic...]...]
"use strict";
const fs = require("fs");
const path = require("path");
const ge = require(path.join(__dirname, "..", ".oracles", "node_modules", "glass-easel-template-compiler"));
const jobs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = [];
for (const job of jobs) {
  const g = new ge.TmplGroup();
  const diags = [];
  for (const [p, text] of Object.entries(job.files)) {
    if (!p.endsWith(".wxml")) continue;
    try {
      for (const d of g.addTmpl(p.slice(0, -5), text) || []) diags.push(d);
    } catch (e) {
      diags.push({ isError: true, level: "Fatal", message: String(e), path: p, startLine: 0, startColumn: 0 });
    }
  }
  g.free();
  out.push(diags);
}
process.stdout.write(JSON.stringify(out));
