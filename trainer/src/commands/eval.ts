import { checkpointPath } from "../run-folder.ts";
import { defineCommand, UsageError } from "./flags.ts";

export default defineCommand({
  summary: "validation loss and accuracy of a checkpoint: trainer eval --out runs/<name> [--data <dir>] [--size N]",
  flags: {
    out: { kind: "string", value: "DIR", help: "the run folder to evaluate (its checkpoint.bin)" },
    checkpoint: { kind: "string", value: "FILE", help: "the checkpoint file to evaluate (instead of --out)" },
    tta: { kind: "switch", help: "also fastai's tta: mean softmax of 4 views (centre, mirrored, 2 shifted), as /v1/classify?tta=1" },
  },
  config: ["data", "size", "validLimit", "limit", "backend", "threads", "bs"],
  configNote: "default to the checkpoint's saved config; --size to its last stage's size",
  async run({ values, overrides }, io) {
    const path = values.checkpoint ?? (values.out !== undefined ? checkpointPath(values.out) : null);
    if (!path) throw new UsageError("trainer eval needs --out <run folder> or --checkpoint <file>");
    const { runEval } = await import("../learner/run-eval.ts");
    await runEval(path, overrides, { io, tta: values.tta === true });
  },
});
