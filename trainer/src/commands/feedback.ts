import type { FeedbackSource } from "../feedback/source.ts";
import { defineCommand, UsageError } from "./flags.ts";

export default defineCommand({
  summary: "copy the feedback set from R2 into train/<class>/* for finetune --feedback: trainer feedback pull --out <dir> [--persist-to DIR | --worker URL]",
  subcommands: ["pull"],
  flags: {
    out: { kind: "string", value: "DIR", help: "writes DIR/train/<class>/<sha256>.<ext>" },
    persistTo: { kind: "string", value: "DIR", help: "local R2 state to read (default .wrangler/state, what npm start writes)" },
    bucket: { kind: "string", value: "NAME", help: "R2 bucket (default: wrangler.toml's)" },
    worker: { kind: "string", value: "URL", help: "read through a running worker's GET /v1/feedback instead (needs FEEDBACK_TOKEN in the environment)" },
    remote: { kind: "switch", help: "the deployed bucket: needs --worker (wrangler cannot list R2 objects)" },
  },
  async run({ values }, io) {
    const { out, worker, persistTo } = values;
    if (!out) throw new UsageError("trainer feedback pull needs --out <folder> (it writes <folder>/train/<class>/<sha256>.<ext>)");
    if (values.remote === true && !worker) {
      throw new UsageError("--remote needs --worker https://<your worker>: wrangler cannot list R2 objects, so the deployed worker lists them (GET /v1/feedback with the FEEDBACK_TOKEN secret in your environment)");
    }
    if (worker && persistTo) throw new UsageError("pass --worker <url> (read through a running worker) or --persist-to <dir> (read local state), not both");
    const { pullFeedback } = await import("../feedback/pull.ts");
    let source: FeedbackSource;
    let dispose = async (): Promise<void> => {};
    if (worker) {
      if (!/^https?:\/\//.test(worker)) throw new UsageError(`--worker expects the worker's URL (http://localhost:8787 or https://...), got ${JSON.stringify(worker)}`);
      const token = process.env.FEEDBACK_TOKEN;
      if (!token) throw new UsageError("reading through the worker needs its FEEDBACK_TOKEN secret: export FEEDBACK_TOKEN=<token> first");
      const { workerSource } = await import("../feedback/source.ts");
      source = workerSource({ url: worker, token });
    } else {
      const { bucketFromWranglerToml } = await import("../publish/r2-target.ts");
      const { openLocalBucket } = await import("../feedback/local-bucket.ts");
      const cwd = process.cwd();
      const local = await openLocalBucket({ bucket: values.bucket ?? (await bucketFromWranglerToml(`${cwd}/wrangler.toml`)), cwd, ...(persistTo ? { persistTo } : {}) });
      source = local.source;
      dispose = local.dispose;
    }
    try {
      const res = await pullFeedback(source, out, { log: io.log });
      const classes = Object.entries(res.classes).map(([c, n]) => `${c} ${n}`).join(", ");
      io.write(`feedback from ${source.description} -> ${out}/train: ${res.written} new, ${res.skipped} already there${classes ? ` (${classes})` : " (none stored yet)"}`);
    } finally {
      await dispose();
    }
  },
});
