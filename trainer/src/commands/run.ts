import { CONFIG_KEYS, resolveConfig } from "../config.ts";
import { defineCommand } from "./flags.ts";

export default defineCommand({
  summary: "train a model: trainer run --preset resnet18 --data <dir> --epochs 5 --out runs/<name>",
  flags: {
    preset: { kind: "string", value: "NAME", help: "start from a book experiment (trainer --help lists them); flags override it" },
    resume: { kind: "switch", help: "continue the interrupted run in --out from its last checkpoint (its saved config wins)" },
  },
  config: CONFIG_KEYS,
  async run({ values, overrides }, io) {
    const config = resolveConfig({ preset: values.preset ?? null, overrides });
    const { runTraining } = await import("../learner/run-training.ts");
    const result = await runTraining(config, { resume: values.resume === true, io, argv: ["trainer", ...process.argv.slice(2)] });
    const f = result.final;
    io.write(`checkpoint: ${result.checkpoint}${f ? `  (valid_loss ${f.validLoss.toFixed(4)}, accuracy ${f.accuracy.toFixed(4)})` : ""}`);
  },
});
