// Bundles the reset page's script and copies its stylesheet into dist/ui.
import fs from "node:fs";
import { build } from "esbuild";

const out = "dist/ui";
fs.mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/ui/web/reset.ts"],
  outfile: `${out}/reset.js`,
  bundle: true,
  minify: true,
  format: "iife",
  platform: "browser",
  target: ["es2020"],
  logLevel: "warning",
});
fs.copyFileSync("src/ui/web/reset.css", `${out}/reset.css`);
