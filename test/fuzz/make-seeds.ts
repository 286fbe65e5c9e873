// Writes the fuzz suite's seed images (test/fuzz/seeds/): small real encodings of a generated pattern,
// one per decoder path worth mutating. Run once; the files are kept in the repo so the corpus is fixed.
//   npx tsx test/fuzz/make-seeds.ts
import { mkdirSync, writeFileSync } from "node:fs";
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
await jpeg("baseline-7x5.jpg", 7, 5, false);
png("rgb-24x16.png", 24, 16, 2);
png("rgba-9x31.png", 9, 31, 6);
