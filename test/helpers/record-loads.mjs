// `node --import <this file>`: append the URL of every module the process loads to $RECORD_LOADS, one a
// line, so a test can check what a command imported (test/trainer/cli.test.ts: --help loads no tfjs).
import { register } from "node:module";

register("./record-loads-hooks.mjs", import.meta.url, { data: { file: process.env.RECORD_LOADS } });
