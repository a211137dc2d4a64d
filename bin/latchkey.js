#!/usr/bin/env node
import { main } from "../dist/src/cli/main.js";

// A reader that stops early (`latchkey outbox | head`) has all it wanted: not an error.
process.stdout.on("error", (err) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await main(process.argv.slice(2));
