// Issue 14's headline, end to end: every val image POSTed to /v1/classify of the real worker (workerd via
// Miniflare, the deployed [vars] of wrangler.toml, the shipped model published to its R2 bucket the way
// `npm start` does), size=default, top-1 counted from the response. Optionally each image's centre crop at
// an aspect (re-encoded as a JPEG by sharp, quality 95) instead of the square original.
// An accuracy check, not a timing.
//   npx tsx bench/accuracy/served-val.ts [--data ../shared/data/imagenette] [--per-class 1000] [--aspect 16:9]
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { validateManifest } from "@resnet-edge/shared";
import { parseAspect, aspectSize } from "../../trainer/src/calibrate/size-curve.ts";
import { scanImageFolder } from "../../trainer/src/data/imagenette.ts";
import { publishModel } from "../../trainer/src/publish/publish.ts";
import { bucketTarget, type BucketLike } from "../../trainer/src/publish/r2-target.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { wranglerVars } from "../../test/edge/helpers/wrangler-vars.ts";

const { values } = parseArgs({ options: { data: { type: "string" }, "per-class": { type: "string" }, aspect: { type: "string" } } });
const data = resolve(values.data ?? "../shared/data/imagenette");
const perClass = Number(values["per-class"] ?? 1000);
const aspect = values.aspect ? parseAspect(values.aspect) : null;
const vars = wranglerVars();
const dir = join(process.cwd(), "models", vars.DEFAULT_MODEL!);
const manifest = validateManifest(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
const folder = await scanImageFolder(data, { limit: 0, validLimit: perClass });
const w = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: { ...vars, MODEL_POLL_SECONDS: "0" } });
try {
  await publishModel(bucketTarget((await w.mf.getR2Bucket("MODELS")) as unknown as BucketLike, "miniflare r2"), { modelDir: dir });
  let right = 0;
  const tensors = new Map<string, number>();
  const t0 = Date.now();
  for (const [n, item] of folder.valid.entries()) {
    let bytes: Uint8Array = new Uint8Array(await readFile(item.path));
    if (aspect !== null) {
      const meta = await sharp(bytes).metadata();
      const s = aspectSize(meta.width!, meta.height!, aspect);
      bytes = new Uint8Array(await sharp(bytes).extract({ left: Math.floor((meta.width! - s.width) / 2), top: Math.floor((meta.height! - s.height) / 2), width: s.width, height: s.height }).jpeg({ quality: 95 }).toBuffer());
    }
    const res = await w.fetch("/v1/classify?top_k=1", { method: "POST", body: bytes as BodyInit, headers: { "content-type": "image/jpeg" } });
    const body = (await res.json()) as { predictions: { wnid: string }[]; input: { tensor: { height: number; width: number } } };
    if (res.status !== 200) throw new Error(`${item.path}: ${res.status} ${JSON.stringify(body)}`);
    const key = `${body.input.tensor.height}x${body.input.tensor.width}`;
    tensors.set(key, (tensors.get(key) ?? 0) + 1);
    if (body.predictions[0]!.wnid === folder.classes[item.label]) right++;
    if ((n + 1) % 500 === 0) process.stderr.write(`${n + 1}/${folder.valid.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  console.log(
    `${manifest.name} ${manifest.version} via /v1/classify (size=default${aspect === null ? "" : `, ${values.aspect} centre crops`}): ` +
      `${right}/${folder.valid.length} = ${((100 * right) / folder.valid.length).toFixed(1)}% top-1; tensors ${[...tensors].map(([k, v]) => `${k} x${v}`).join(", ")}`,
  );
} finally {
  await w.dispose();
}
