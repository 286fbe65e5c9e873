// How close the DC-only decoder's 4:2:0 chroma is to libjpeg-turbo's at 1/8, per estimate. libjpeg scales
// 4:2:0 chroma up with a 2x2 IDCT that reads AC coefficients the DC-only decoder skips; the luma (and every
// 1x1-IDCT component) is exact (test/shared/jpeg-dc.test.ts). Estimates (shared/src/codecs/jpeg-dc.ts):
// "replicate" (the block's DC over its 2x2), "triangle" (3/4-1/4 interpolation toward the neighbouring blocks,
// as libjpeg's fancy upsampling weighs), "smooth" (libjpeg's own block-smoothing AC estimates from the 5x5
// neighbouring DCs, then its 2x2 IDCT: the default).
// Val images (first `--per-class` of each class) re-encoded progressive 4:2:0 at quality 90 by sharp, at their
// own size, at twice it, and upscaled to 4032x3024; |DC-only - libjpeg| over the RGB output, max and mean.
// An accuracy measurement, not a timing: fine on a busy machine.
//   npx tsx bench/jpeg/dc-fidelity.ts [--per-class 2]
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { codecModules } from "../../shared/src/codecs/registry.ts";
import { decodeJpegDc, type DcChroma } from "../../shared/src/codecs/jpeg-dc.ts";
import { decodeWithLibjpeg } from "../../shared/src/codecs/libjpeg-turbo.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { IMAGENETTE_DIR } from "../../test/helpers/data.ts";

const { values } = parseArgs({ options: { "per-class": { type: "string" } } });
const perClass = Number(values["per-class"] ?? 2);
await initCodecs();
const val = join(IMAGENETTE_DIR, "val");
const files = readdirSync(val)
  .sort()
  .flatMap((d) => readdirSync(join(val, d)).sort().slice(0, perClass).map((f) => join(val, d, f)));
const sizes = ["own size", "twice", "4032x3024"] as const;
const estimates: DcChroma[] = ["replicate", "triangle", "smooth"];
const stats = new Map<string, { max: number; sum: number; n: number }>();
for (const file of files) {
  const meta = await sharp(file).metadata();
  for (const size of sizes) {
    const [w, h] = size === "own size" ? [meta.width!, meta.height!] : size === "twice" ? [2 * meta.width!, 2 * meta.height!] : [4032, 3024];
    const bytes = new Uint8Array(await sharp(file).resize(w, h, { fit: "fill" }).jpeg({ quality: 90, progressive: true, chromaSubsampling: "4:2:0" }).toBuffer());
    const ref = decodeWithLibjpeg(bytes, codecModules().jpeg, { scaleDenom: 8, channels: 3, maxScans: 500, memoryLimit: 256 << 20 }).image.data;
    for (const chroma of estimates) {
      const out = decodeJpegDc(bytes, { channels: 3, maxScans: 500, chroma }).image.data;
      const key = `${size}|${chroma}`;
      const s = stats.get(key) ?? { max: 0, sum: 0, n: 0 };
      for (let i = 0; i < out.length; i++) {
        const d = Math.abs(out[i]! - ref[i]!);
        if (d > s.max) s.max = d;
        s.sum += d;
      }
      s.n += out.length;
      stats.set(key, s);
    }
  }
}
console.log(`${files.length} val images, progressive 4:2:0 q90 (sharp), decoded at 1/8; |DC-only - libjpeg| over RGB`);
console.log(`| size | ${estimates.map((e) => `${e}: mean / max`).join(" | ")} |`);
console.log(`|---|${estimates.map(() => "---").join("|")}|`);
for (const size of sizes) console.log(`| ${size} | ${estimates.map((e) => { const s = stats.get(`${size}|${e}`)!; return `${(s.sum / s.n).toFixed(3)} / ${s.max}`; }).join(" | ")} |`);
