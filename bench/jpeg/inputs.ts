// Large real-photo JPEGs for the JPEG benchmarks: an Imagenette val image upscaled with sharp (libvips),
// optionally with film grain (deterministic noise, so the entropy-coded data is as dense as a real camera
// file's: an upscaled 224-pixel photo alone compresses to ~25 KB/MP, a camera photo to 300-500 KB/MP),
// encoded baseline or progressive, 4:2:0 or 4:4:4, at quality 90. Nothing is written to disk.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";

export const PHOTO = "imagenette/val/n03888257/ILSVRC2012_val_00001440.JPEG";

export interface BigJpeg {
  name: string;
  bytes: Uint8Array;
  width: number;
  height: number;
}

/** `photo` (any JPEG) upscaled to width x height and re-encoded. */
export async function bigJpeg(
  photo: Uint8Array,
  width: number,
  height: number,
  opts: { progressive: boolean; subsampling: "4:2:0" | "4:4:4"; grain?: number },
): Promise<BigJpeg> {
  const upscaled = sharp(photo).resize(width, height, { fit: "fill", kernel: "lanczos3" });
  let pipeline = upscaled;
  if (opts.grain) {
    const raw = await upscaled.removeAlpha().raw().toBuffer();
    let seed = 12345;
    for (let i = 0; i < raw.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      raw[i] = Math.max(0, Math.min(255, raw[i]! + (((seed >>> 16) % (2 * opts.grain + 1)) - opts.grain)));
    }
    pipeline = sharp(raw, { raw: { width, height, channels: 3 } });
  }
  const out = await pipeline.jpeg({ quality: 90, progressive: opts.progressive, chromaSubsampling: opts.subsampling, mozjpeg: false }).toBuffer();
  const mp = Math.round((width * height) / 1e5) / 10;
  const grain = opts.grain ? `, grain ${opts.grain}` : "";
  return { name: `${width}x${height} (${mp} MP) ${opts.progressive ? "progressive" : "baseline"} ${opts.subsampling}${grain}`, bytes: new Uint8Array(out), width, height };
}

export function readData(dataDir: string, rel: string): Uint8Array {
  return new Uint8Array(readFileSync(join(dataDir, rel)));
}
