// Large real-photo JPEGs for the JPEG benchmarks: an Imagenette val image upscaled with sharp (libvips),
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
export async function bigJpeg(photo: Uint8Array, width: number, height: number, opts: { progressive: boolean; subsampling: "4:2:0" | "4:4:4" }): Promise<BigJpeg> {
  const out = await sharp(photo)
    .resize(width, height, { fit: "fill", kernel: "lanczos3" })
    .jpeg({ quality: 90, progressive: opts.progressive, chromaSubsampling: opts.subsampling, mozjpeg: false })
    .toBuffer();
  const mp = Math.round((width * height) / 1e5) / 10;
  return { name: `${width}x${height} (${mp} MP) ${opts.progressive ? "progressive" : "baseline"} ${opts.subsampling}`, bytes: new Uint8Array(out), width, height };
}

export function readData(dataDir: string, rel: string): Uint8Array {
  return new Uint8Array(readFileSync(join(dataDir, rel)));
}
