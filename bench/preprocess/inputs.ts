// The three bench inputs. The 500x375 JPEG does not exist in the team data, so it is made here,
// deterministically: the 2725x2225 oddimages photo is decoded, resized (shared's resize) to 500x408,
// center-cropped to 500x375 and encoded by @jsquash/jpeg's mozjpeg encoder (baseline, quality 90, 4:2:0).
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import encodeJpeg, { init as initJpegEncoder } from "@jsquash/jpeg/encode.js";
import { centerCrop, decodeImage, resize, toRGB } from "../../shared/src/index.ts";
import { DATA_DIR, IMAGENETTE_DIR, ODDIMAGES_DIR } from "../../test/helpers/data.ts";

export interface BenchInput {
  name: string;
  bytes: Uint8Array;
  /** How it was obtained, for BENCHMARKS.md. */
  origin: string;
}

const PHOTO = "sharp__2569067123_aca715a2ee_o.jpg";

export async function benchInputs(): Promise<BenchInput[]> {
  const dir = join(IMAGENETTE_DIR, "val/n03888257");
  const first = readdirSync(dir).sort()[0]!;
  const photo = new Uint8Array(readFileSync(join(ODDIMAGES_DIR, PHOTO)));
  return [
    { name: "224x224 Imagenette JPEG", bytes: new Uint8Array(readFileSync(join(dir, first))), origin: `imagenette/val/n03888257/${first}` },
    { name: "500x375 JPEG", bytes: await make500x375(photo), origin: `${PHOTO} -> resize 500x408 -> crop 500x375 -> mozjpeg q90 baseline` },
    { name: "2725x2225 JPEG", bytes: photo, origin: `oddimages/${PHOTO}` },
  ];
}

async function make500x375(photo: Uint8Array): Promise<Uint8Array> {
  const require = createRequire(import.meta.url);
  const wasm = await WebAssembly.compile(readFileSync(join(dirname(require.resolve("@jsquash/jpeg/package.json")), "codec/enc/mozjpeg_enc.wasm")));
  await initJpegEncoder(wasm);
  const img = await decodeImage(photo, { maxPixels: 4e7 });
  const small = centerCrop(resize(img, 500, 408), 500, 375);
  const rgb = toRGB(small);
  const rgba = new Uint8ClampedArray(500 * 375 * 4);
  for (let p = 0; p < 500 * 375; p++) {
    rgba.set(rgb.data.subarray(p * 3, p * 3 + 3), p * 4);
    rgba[p * 4 + 3] = 255;
  }
  const out = await encodeJpeg({ data: rgba, width: 500, height: 375, colorSpace: "srgb" } as ImageData, {
    quality: 90,
    baseline: true,
    progressive: false,
    optimize_coding: true,
    chroma_subsample: 2,
    auto_subsample: false,
  });
  return new Uint8Array(out);
}

export { DATA_DIR };
