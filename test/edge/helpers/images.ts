// Real JPEG and PNG bodies of any size for the edge tests: a smooth deterministic pattern encoded with
// mozjpeg (@jsquash/jpeg's encoder) and an independent PNG writer.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import encodeJpegWasm, { init as initJpegEncoder } from "@jsquash/jpeg/encode.js";
import { encodePng } from "../../shared/helpers/png-encode.ts";

const require = createRequire(import.meta.url);
let encoderReady: Promise<void> | undefined;

/** RGBA pixels: gradients plus a few stripes, so every size gives a different, non-flat tensor. */
export function pattern(width: number, height: number, seed = 0): Uint8ClampedArray {
  const px = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      px[i] = (255 * x) / Math.max(1, width - 1);
      px[i + 1] = (255 * y) / Math.max(1, height - 1);
      px[i + 2] = 128 + 100 * Math.sin((x + 2 * y + seed * 7) / 9);
      px[i + 3] = 255;
    }
  }
  return px;
}

export async function makeJpeg(width: number, height: number, seed = 0): Promise<Uint8Array> {
  encoderReady ??= (async () => {
    const wasm = readFileSync(join(dirname(require.resolve("@jsquash/jpeg/package.json")), "codec/enc/mozjpeg_enc.wasm"));
    await initJpegEncoder(await WebAssembly.compile(wasm));
  })();
  await encoderReady;
  const data = pattern(width, height, seed);
  const buf = await encodeJpegWasm({ data, width, height, colorSpace: "srgb" } as ImageData, { quality: 90 });
  return new Uint8Array(buf);
}

export function makePng(width: number, height: number, seed = 0): Uint8Array {
  const rgba = pattern(width, height, seed);
  const samples: number[] = [];
  for (let i = 0; i < rgba.length; i += 4) samples.push(rgba[i]!, rgba[i + 1]!, rgba[i + 2]!);
  return encodePng({ width, height, colorType: 2, bitDepth: 8, samples });
}

/**
 * A copy of a JPEG whose frame header (SOF0/SOF2) claims `width`x`height`: enough for tests of limits that
 * are checked from the header, without encoding a 50-megapixel image.
 */
export function withJpegFrameSize(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const out = jpeg.slice();
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
      out[i + 5] = height >> 8;
      out[i + 6] = height & 255;
      out[i + 7] = width >> 8;
      out[i + 8] = width & 255;
      return out;
    }
  }
  throw new Error("withJpegFrameSize: no SOF0/SOF2 marker");
}
