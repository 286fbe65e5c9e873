import { FINETUNE_DEFAULTS, FINETUNE_FIELDS } from "../config.ts";
import { defineCommand, UsageError } from "./flags.ts";

export default defineCommand({
  summary: "fastai fine_tune of a checkpoint, new classes from feedback extend the head: trainer finetune --from runs/<name> --data <dir> [--feedback <dir>] --out runs/<new> (a checkpoint every epoch; --resume continues)",
  flags: {
    from: { kind: "string", value: "RUN", help: "run folder or checkpoint.bin to start from" },
    resume: { kind: "switch", help: "continue the interrupted fine-tune in --out from its last epoch checkpoint (its saved config, schedule and feedback folder win)" },
    feedback: { kind: "string", value: "DIR", help: "feedback folder train/<class>/* (trainer feedback pull); classes the checkpoint lacks extend the head" },
    freezeEpochs: { ...FINETUNE_FIELDS.freezeEpochs, value: "N", help: `${FINETUNE_FIELDS.freezeEpochs.help} (default ${FINETUNE_DEFAULTS.freezeEpochs})` },
    lrMult: {
      ...FINETUNE_FIELDS.lrMult,
      value: "X",
      expects: "a number >= 1 (the first layer group trains at lr/lr-mult)",
      help: `${FINETUNE_FIELDS.lrMult.help} (default ${FINETUNE_DEFAULTS.lrMult})`,
    },
  },
  config: ["data", "out", "epochs", "lr", "size", "presize", "multiSizeMin", "bs", "limit", "validLimit", "backend", "threads", "cacheDir", "seed"],
  configNote: `default to the checkpoint's saved config, except --epochs ${FINETUNE_DEFAULTS.epochs} (phase 2) and --lr ${FINETUNE_DEFAULTS.lr} (fastai's base_lr); --size to its last stage's`,
  async run({ values, overrides }, io) {
    const resume = values.resume === true;
    if (!values.from && !resume) {
      throw new UsageError("trainer finetune needs --from <run folder or checkpoint.bin> (the trained model to start from), or --resume --out <folder> to continue an interrupted fine-tune");
    }
    const { runFinetune } = await import("../learner/run-finetune.ts");
    const res = await runFinetune({
      from: values.from ?? null,
      resume,
      feedback: values.feedback ?? null,
      ...(values.freezeEpochs === undefined ? {} : { freezeEpochs: values.freezeEpochs }),
      ...(values.lrMult === undefined ? {} : { lrMult: values.lrMult }),
      overrides,
      io,
      argv: ["trainer", ...process.argv.slice(2)],
    });
    const f = res.final;
    io.write(
      `checkpoint: ${res.checkpoint}  (${res.classes.length} classes${res.added.length ? `, new: ${res.added.join(", ")}` : ""}` +
        `${f ? `; valid_loss ${f.validLoss.toFixed(4)}, accuracy ${f.accuracy.toFixed(4)}` : ""})`,
    );
  },
});
