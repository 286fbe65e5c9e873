/**
 * The trainer's commands, in `trainer --help` order.
 *
 * To add a command: write `commands/<name>.ts` exporting `defineCommand({ summary, flags, config?, run })`
 * (see run.ts; flags are declared once in the schema of flags.ts, and parsing, validation and help follow
 * from it), then add one line here. Keep the module's top level light: import the training stack
 * (tfjs, codecs, onnxruntime) inside `run` with `await import(...)`, so `trainer --help` and `publish`
 * stay fast; test/trainer/cli.test.ts checks that --help loads no tfjs and no codec.
 */
import type { Command } from "./flags.ts";
import calibrate from "./calibrate.ts";
import evalCommand from "./eval.ts";
import exportCommand from "./export.ts";
import feedback from "./feedback.ts";
import finetune from "./finetune.ts";
import importCommand from "./import.ts";
import lrFind from "./lr-find.ts";
import publish from "./publish.ts";
import run from "./run.ts";

export const COMMANDS: Readonly<Record<string, Command>> = {
  run,
  "lr-find": lrFind,
  eval: evalCommand,
  export: exportCommand,
  import: importCommand,
  calibrate,
  finetune,
  feedback,
  publish,
};
