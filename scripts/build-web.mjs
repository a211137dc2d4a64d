// Bundles the reset page's script and copies its stylesheet into dist/ui.
import fs from "node:fs";
import { build } from "esbuild";

const out = "dist/ui";
fs.mkdirSync(out, { recursive: true });
// strength.js is separate: only pages whose policy asks for a strength load its dictionaries
for (const name of ["reset", "strength"]) {
  await build({
    entryPoints: [`src/ui/web/${name}.ts`],
    outfile: `${out}/${name}.js`,
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    target: ["es2020"],
    logLevel: "warning",
  });
}
fs.copyFileSync("src/ui/web/reset.css", `${out}/reset.css`);
