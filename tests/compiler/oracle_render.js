// Test-only: evaluate WeChat wcc output ($gwx) for each job, each in a fresh V8 context (wcc's code
// patches built-in prototypes), and print the rendered trees as JSON.
// Usage: node oracle_render.js jobs.json   (jobs: [{js, path, data}])
"use strict";
const fs = require("fs");
const vm = require("vm");
const jobs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = [];
const quiet = { warn() {}, log() {}, error() {}, info() {} };
for (const job of jobs) {
  try {
    const sandbox = { console: quiet, __wxAppCode__: {} };
    sandbox.window = sandbox;
    vm.createContext(sandbox);
    vm.runInContext(job.js, sandbox, { timeout: 5000 });
    const g = {};
    const gen = sandbox.$gwx(job.path, g);
    if (typeof gen !== "function") {
      out.push({ error: "no generator for " + job.path });
      continue;
    }
    sandbox.__job_gen = gen;
    sandbox.__job_data = JSON.stringify(job.data || {});
    sandbox.__job_g = g;
    const res = vm.runInContext("JSON.stringify(__job_gen(JSON.parse(__job_data), {}, __job_g))", sandbox, {
      timeout: 5000,
    });
    out.push(JSON.parse(res));
  } catch (e) {
    out.push({ error: String(e && e.message ? e.message : e) });
  }
}
process.stdout.write(JSON.stringify(out));
