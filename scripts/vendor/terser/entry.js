// The part of terser minibox runs (compiler/protect.py): minify_sync, with the AST transforms it needs.
// Its CLI (and acorn, which only the CLI uses) is left out. The engine gets no host functions.
import "./node_modules/terser/lib/transform.js";
import "./node_modules/terser/lib/mozilla-ast.js";
import { minify_sync } from "./node_modules/terser/lib/minify.js";

globalThis.__mbTerser = Object.freeze({ minify_sync: minify_sync });
