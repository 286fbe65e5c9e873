// Writes the fuzz suite's seed images (test/fuzz/seeds/): small real encodings of a generated pattern,
// one per decoder path worth mutating. Run once; the files are kept in the repo so the corpus is fixed.
//   npx tsx test/fuzz/make-seeds.ts
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { init as initJpegEncoder } from "@jsquash/jpeg/encode.js";
import encodeJpeg from "@jsquash/jpeg/encode.js";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { pattern } from "../edge/helpers/images.ts";
import { encodePng } from "../shared/helpers/png-encode.ts";

const dir = join(import.meta.dirname, "seeds");
mkdirSync(dir, { recursive: true });
const require = createRequire(import.meta.url);
await initJpegEncoder(await WebAssembly.compile(readFileSync(join(dirname(require.resolve("@jsquash/jpeg/package.json")), "codec/enc/mozjpeg_enc.wasm"))));

async function jpeg(name: string, width: number, height: number, progressive: boolean): Promise<void> {
  const data = pattern(width, height, 3);
  const buf = await encodeJpeg({ data, width, height, colorSpace: "srgb" } as ImageData, { quality: 60, progressive, baseline: !progressive, optimize_coding: true });
  writeFileSync(join(dir, name), new Uint8Array(buf));
}

function png(name: string, width: number, height: number, colorType: 2 | 6): void {
  const rgba = pattern(width, height, 5);
  const samples: number[] = [];
  for (let i = 0; i < rgba.length; i += 4) samples.push(rgba[i]!, rgba[i + 1]!, rgba[i + 2]!, ...(colorType === 6 ? [200] : []));
  writeFileSync(join(dir, name), encodePng({ width, height, colorType, bitDepth: 8, samples }));
}

await jpeg("baseline-40x30.jpg", 40, 30, false);
await jpeg("progressive-40x30.jpg", 40, 30, true);
// large enough that the shipped recipe (56 px, aligned to 64) decodes it at 1/8: the DC-only decoder (size=default) and
// libjpeg (size=native, 1/2) both see its mutations
await jpeg("progressive-768x576.jpg", 768, 576, true);
await jpeg("baseline-7x5.jpg", 7, 5, false);
png("rgb-24x16.png", 24, 16, 2);
png("rgba-9x31.png", 9, 31, 6);

// WebP (libwebp's own encoders, Debian package `webp`): lossy, lossless, each with alpha, and a two-frame
// animation (which the decoder refuses with 415 unsupported_variant; its mutations must not get a 5xx).
function cwebp(name: string, src: string, args: string[]): void {
  const r = spawnSync("cwebp", ["-quiet", ...args, join(dir, src), "-o", join(dir, name)]);
  if (r.status !== 0) throw new Error(`cwebp ${name}: ${r.stderr}`);
}
cwebp("lossy-24x16.webp", "rgb-24x16.png", ["-q", "60"]);
cwebp("lossless-24x16.webp", "rgb-24x16.png", ["-lossless"]);
cwebp("lossy-alpha-9x31.webp", "rgba-9x31.png", ["-q", "60", "-alpha_q", "80"]);
cwebp("lossless-alpha-9x31.webp", "rgba-9x31.png", ["-lossless", "-exact"]);
const frame2 = join(tmpdir(), "fuzz-seed-frame2.png");
const rgba2 = pattern(24, 16, 9);
const samples2: number[] = [];
for (let i = 0; i < rgba2.length; i += 4) samples2.push(rgba2[i]!, rgba2[i + 1]!, rgba2[i + 2]!);
writeFileSync(frame2, encodePng({ width: 24, height: 16, colorType: 2, bitDepth: 8, samples: samples2 }));
const anim = spawnSync("img2webp", ["-loop", "0", "-lossy", "-d", "100", join(dir, "rgb-24x16.png"), "-d", "100", frame2, "-o", join(dir, "animated-24x16.webp")]);
if (anim.status !== 0) throw new Error(`img2webp: ${anim.stderr}`);
