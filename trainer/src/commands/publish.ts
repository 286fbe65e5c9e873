import { defineCommand, UsageError } from "./flags.ts";

export default defineCommand({
  summary: "upload an exported model as a new version and activate it: trainer publish --model models/<name> [--name <name>] [--remote]",
  flags: {
    model: { kind: "string", value: "DIR", help: "folder written by trainer export" },
    name: { kind: "string", value: "NAME", help: "publish under this model name (default: the manifest's)" },
    remote: { kind: "switch", help: "the deployed bucket (wrangler r2 --remote)" },
    local: { kind: "switch", help: "the local bucket npm start serves (the default)" },
    persistTo: { kind: "string", value: "DIR", help: "local R2 state folder (default .wrangler/state)" },
    bucket: { kind: "string", value: "NAME", help: "R2 bucket (default: wrangler.toml's)" },
    noActivate: { kind: "switch", help: "upload without pointing active.json at the new version" },
  },
  async run({ values }, io) {
    const { model } = values;
    if (!model) throw new UsageError("trainer publish needs --model <folder written by trainer export>");
    if (values.remote === true && values.local === true) throw new UsageError("pass --local (the default: the bucket npm start serves) or --remote, not both");
    const { bucketFromWranglerToml, wranglerR2Target } = await import("../publish/r2-target.ts");
    const { publishModel } = await import("../publish/publish.ts");
    const cwd = process.cwd();
    const bucket = values.bucket ?? (await bucketFromWranglerToml(`${cwd}/wrangler.toml`));
    const target = wranglerR2Target({ bucket, mode: values.remote === true ? "remote" : "local", cwd, ...(values.persistTo ? { persistTo: values.persistTo } : {}) });
    const res = await publishModel(target, { modelDir: model, ...(values.name ? { name: values.name } : {}), activate: values.noActivate !== true, log: io.log });
    io.write(`published ${res.name}@${res.version} to ${target.description}${values.noActivate === true ? " (not activated)" : ""}`);
  },
});
