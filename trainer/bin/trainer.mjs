#!/usr/bin/env node
// `trainer` executable: run cli.ts through the tsx CLI (the same as `npm run trainer`) in a child process, so tsx's
// resolution covers every module (tfjs-core's directory imports fail under the in-process register API).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const r = spawnSync(process.execPath, [fileURLToPath(import.meta.resolve("tsx/cli")), cli, ...process.argv.slice(2)], { stdio: "inherit" });
if (r.error) {
  console.error(`error: could not start the trainer: ${r.error.message}`);
  process.exit(2);
}
process.exit(r.status ?? (r.signal ? 128 + (r.signal === "SIGINT" ? 2 : 15) : 1));
