#!/usr/bin/env node
// `npm start`: seed the local R2 bucket with a model, then run the worker with `wrangler dev` (offline).
//
//   npm start                              seeds the shipped model, models/<DEFAULT_MODEL> (ResNet-18 int8)
//   npm start -- --model-dir <dir>         seeds an exported model folder (manifest.json + its .onnx file)
//   npm start -- --tiny                    seeds the tiny untrained fixture instead (a 30 kB smoke-test model)
//   npm start -- --port 8787 [--persist-to <dir>]
//
// The bucket lives in .wrangler/state (wrangler's local persistence; --persist-to moves it), so seeded
// models survive restarts.
// Publishing another version locally is the same three puts this script does, pointer last.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME ?? join(root, ".xdg"), NO_COLOR: "1" };

function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = process.argv[i + 1];
  if (!v || v.startsWith("--")) fail(`--${name} needs a value`);
  return v;
}

const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
const bucketName = /bucket_name\s*=\s*"([^"]+)"/.exec(toml)?.[1] ?? fail("wrangler.toml has no [[r2_buckets]] bucket_name");
const defaultModel = /^DEFAULT_MODEL\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "tiny-fcn";
const port = option("port", "8787");
const persistTo = option("persist-to");
const persist = persistTo ? ["--persist-to", resolve(persistTo)] : [];

let modelDir = option("model-dir");
if (modelDir) {
  modelDir = resolve(modelDir);
  if (!existsSync(join(modelDir, "manifest.json"))) fail(`${modelDir} has no manifest.json: pass the folder \`trainer export\` wrote`);
} else if (process.argv.includes("--tiny")) {
  modelDir = join(root, ".wrangler", "seed", "tiny-fcn");
  const r = spawnSync(bin("tsx"), [join(root, "scripts/write-tiny-model.ts"), modelDir, "tiny-fcn", "v1"], { stdio: "inherit", env });
  if (r.status !== 0) fail("could not write the tiny model");
} else {
  modelDir = join(root, "models", defaultModel);
  if (!existsSync(join(modelDir, "manifest.json"))) {
    fail(`the shipped model ${modelDir} is missing (DEFAULT_MODEL in wrangler.toml is "${defaultModel}"): restore it with git, pass --model-dir <exported folder>, or --tiny`);
  }
}

const { name, version } = JSON.parse(readFileSync(join(modelDir, "manifest.json"), "utf8"));

// The same code path as `trainer publish`: checks the files against the manifest, uploads objects first
// and the pointer last, and skips the upload when this exact version is already in the local bucket.
const published = spawnSync(bin("tsx"), [join(root, "trainer/src/cli.ts"), "publish", "--model", modelDir, "--local", "--bucket", bucketName, ...persist], {
  cwd: root,
  env,
  stdio: "inherit",
});
if (published.status !== 0) fail(`could not publish ${modelDir} to the local bucket (see above)`);

// A local feedback token, so POST /v1/feedback works out of the box (production: wrangler secret put).
const devVars = join(root, ".dev.vars");
if (!existsSync(devVars)) {
  writeFileSync(devVars, `# written by npm start for local use only (never commit); production: wrangler secret put FEEDBACK_TOKEN\nFEEDBACK_TOKEN=${randomBytes(16).toString("hex")}\n`);
  console.log(`wrote ${devVars} with a fresh local FEEDBACK_TOKEN`);
}
const feedbackToken = /^FEEDBACK_TOKEN=(.*)$/m.exec(readFileSync(devVars, "utf8"))?.[1]?.trim();

const vars = name === defaultModel ? [] : ["--var", `DEFAULT_MODEL:${name}`];
const url = `http://localhost:${port}`;
console.log(`
resnet-edge is starting on ${url} (model ${name}/${version}). Try:

  curl -s ${url}/readyz
  curl -s -X POST --data-binary @photo.jpg -H 'content-type: image/jpeg' '${url}/v1/classify?top_k=3'
  curl -s -F image=@a.jpg -F image=@b.png '${url}/v1/classify/batch'
  curl -s ${url}/v1/openapi.json${feedbackToken ? `
  curl -s -X POST --data-binary @photo.jpg -H 'authorization: Bearer ${feedbackToken}' '${url}/v1/feedback?label=n03888257'` : ""}
`);
const dev = spawn(bin("wrangler"), ["dev", "--local", "--port", port, "--ip", "127.0.0.1", ...persist, ...vars], { cwd: root, env, stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => dev.kill(sig));
dev.on("exit", (code) => process.exit(code ?? 0));
