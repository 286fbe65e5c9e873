// Real WebP files for the tests, made from real Imagenette photos by libwebp's own command-line tools (Debian
// package `webp`: cwebp to encode, dwebp as the reference decoder). Nothing is committed: each test run
// writes its files to a temporary directory.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeImage } from "../../../shared/src/index.ts";
import { IMAGENETTE_DIR } from "../../helpers/data.ts";
import { encodePng } from "./png-encode.ts";

const has = (tool: string): boolean => spawnSync(tool, ["-version"], { encoding: "utf8" }).status === 0;
export const hasWebpTools = has("cwebp") && has("dwebp");
export const WEBP_TOOLS_MISSING = "needs cwebp and dwebp (Debian package `webp`; .ci/run installs it)";

/** The Imagenette photos the WebP files are made from (val split, one per class of a few classes). */
export const SOURCES = ["val/n03888257/ILSVRC2012_val_00001440.JPEG", "val/n02102040/ILSVRC2012_val_00004650.JPEG"];

let dir: string | undefined;
const workDir = (): string => (dir ??= mkdtempSync(join(tmpdir(), "webp-test-")));

function run(tool: string, args: string[]): void {
  const r = spawnSync(tool, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed: ${r.stderr}`);
}

/**
 * An RGBA PNG of an Imagenette photo with a smooth alpha ramp plus a fully transparent band, so the alpha
 * channel has every level and transparent pixels whose colour must not leak.
 */
async function withAlpha(source: string): Promise<string> {
  const img = await decodeImage(new Uint8Array(readFileSync(join(IMAGENETTE_DIR, source))), { maxPixels: 1e8, background: [0, 0, 0] });
  const samples: number[] = [];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 3;
      const a = y < 16 ? 0 : Math.round((255 * x) / (img.width - 1));
      samples.push(img.data[i]!, img.data[i + 1]!, img.data[i + 2]!, a);
    }
  }
  const path = join(workDir(), `alpha-${samples.length}.png`);
  writeFileSync(path, encodePng({ width: img.width, height: img.height, colorType: 6, bitDepth: 8, samples }));
  return path;
}

export type WebpKind = "lossy" | "lossless" | "lossy-alpha" | "lossless-alpha";

/**
 * cwebp an Imagenette photo to WebP. `resize` upsamples it first (cwebp -resize) to make a large file; the
 * alpha kinds add an alpha channel. Returns the file's bytes and path.
 */
export async function makeWebp(kind: WebpKind, opts: { source?: string; resize?: [number, number] } = {}): Promise<{ path: string; bytes: Uint8Array }> {
  const source = opts.source ?? SOURCES[0]!;
  const input = kind.endsWith("alpha") ? await withAlpha(source) : join(IMAGENETTE_DIR, source);
  const out = join(workDir(), `${kind}-${source.replaceAll("/", "_")}-${opts.resize?.join("x") ?? "orig"}.webp`);
  const args = ["-quiet", "-metadata", "none"];
  if (kind.startsWith("lossless")) args.push("-lossless", "-exact");
  else args.push("-q", "80");
  if (opts.resize) args.push("-resize", String(opts.resize[0]), String(opts.resize[1]));
  run("cwebp", [...args, input, "-o", out]);
  return { path: out, bytes: new Uint8Array(readFileSync(out)) };
}

/** dwebp's decode (the reference): RGBA from a PAM file, optionally scaled with -scale. */
export function dwebpRgba(path: string, scale?: { width: number; height: number }): { width: number; height: number; data: Uint8Array } {
  const out = join(workDir(), `ref-${Math.random().toString(36).slice(2)}.pam`);
  run("dwebp", [path, "-pam", ...(scale ? ["-scale", String(scale.width), String(scale.height)] : []), "-o", out]);
  const pam = readFileSync(out);
  const headerEnd = pam.indexOf("ENDHDR\n") + 7;
  const header = pam.subarray(0, headerEnd).toString("latin1");
  const num = (key: string): number => Number(new RegExp(`${key} (\\d+)`).exec(header)![1]);
  if (num("DEPTH") !== 4) throw new Error(`dwebp wrote a PAM with depth ${num("DEPTH")}`);
  return { width: num("WIDTH"), height: num("HEIGHT"), data: new Uint8Array(pam.subarray(headerEnd)) };
}
