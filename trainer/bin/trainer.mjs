#!/usr/bin/env node
// `trainer` executable: load TypeScript through tsx, then hand the arguments to cli.ts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
process.exitCode = await main(process.argv.slice(2));
