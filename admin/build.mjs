// Builds the console into dist/ (index.html, app.js, app.css, favicon.svg), or with
// --tests the unit tests into .test-build/.
//
// The output must be byte-identical for the same input (CI rebuilds and diffs dist/): fixed
// file names, no hashes, no timestamps, no absolute paths (esbuild writes none with
// sourcemaps off), and dist/ is emptied first so a removed file cannot linger.
import * as esbuild from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
process.chdir(root);

const common = {
  bundle: true,
  jsx: "automatic",
  jsxImportSource: "preact",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  logLevel: "warning",
  charset: "utf8",
  legalComments: "none",
  sourcemap: false,
};

if (process.argv.includes("--tests")) {
  const out = join(root, ".test-build");
  rmSync(out, { recursive: true, force: true });
  const tests = readdirSync(join(root, "test"))
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => join("test", f));
  await esbuild.build({
    ...common,
    entryPoints: tests,
    outdir: out,
    outExtension: { ".js": ".mjs" },
    platform: "node",
    format: "esm",
    target: "node20",
  });
} else {
  const out = join(root, "dist");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  await esbuild.build({
    ...common,
    entryPoints: { app: "src/main.tsx" },
    outdir: out,
    format: "iife",
    platform: "browser",
    minify: true,
    define: { "process.env.NODE_ENV": '"production"' },
  });
  for (const f of readdirSync(join(root, "static"))) {
    cpSync(join(root, "static", f), join(out, f));
  }
}
