import { CONFIG_KEYS, resolveConfig } from "../config.ts";
import { defineCommand } from "./flags.ts";

const positive = { kind: "number", min: Number.MIN_VALUE, max: Number.MAX_VALUE, expects: "a positive number" } as const;

export default defineCommand({
  summary: "plot loss against learning rate and suggest one: trainer lr-find --preset resnet18 --data <dir>",
  flags: {
    preset: { kind: "string", value: "NAME", help: "start from a book experiment (trainer --help lists them); flags override it" },
    numIt: { ...positive, value: "N", help: "sweep length in batches (default 100)" },
    startLr: { ...positive, value: "X", help: "first learning rate of the sweep (default 1e-7)" },
    endLr: { ...positive, value: "X", help: "last learning rate of the sweep (default 10)" },
  },
  config: CONFIG_KEYS,
  async run({ values, overrides }, io) {
    const config = resolveConfig({ preset: values.preset ?? null, overrides });
    const { numIt, startLr, endLr } = values;
    const { runLrFind } = await import("../learner/run-lr-find.ts");
    await runLrFind(config, {
      io,
      find: { ...(numIt ? { numIt: Math.round(numIt) } : {}), ...(startLr ? { startLr } : {}), ...(endLr ? { endLr } : {}) },
    });
  },
});
