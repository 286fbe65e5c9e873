import encode, { init } from "@jsquash/png/encode.js";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The lr-find plot (loss against learning rate, log x axis, suggestions as coloured vertical lines)
 * drawn into an RGBA buffer and encoded with @jsquash/png. Tick labels use a built-in 3x5 pixel font.
 */
const W = 640;
const H = 400;
const M = { left: 60, right: 20, top: 20, bottom: 40 };

const FONT: Record<string, string[]> = {
  "0": ["111", "101", "101", "101", "111"],
  "1": ["010", "110", "010", "010", "111"],
  "2": ["111", "001", "111", "100", "111"],
  "3": ["111", "001", "111", "001", "111"],
  "4": ["101", "101", "111", "001", "001"],
  "5": ["111", "100", "111", "001", "111"],
  "6": ["111", "100", "111", "101", "111"],
  "7": ["111", "001", "010", "010", "010"],
  "8": ["111", "101", "111", "101", "111"],
  "9": ["111", "101", "111", "001", "111"],
  e: ["000", "111", "111", "100", "111"],
  "-": ["000", "000", "111", "000", "000"],
  ".": ["000", "000", "000", "000", "010"],
};

export const SUGGESTION_COLOURS: Record<string, [number, number, number]> = {
  valley: [214, 39, 40],
  steep: [44, 160, 44],
  minimum: [148, 103, 189],
};

/** An RGBA drawing surface with lines and 3x5-font text (shared with calibrate's size plot). */
export class Canvas {
  constructor(readonly width = W, readonly height = H) {
    this.data = new Uint8ClampedArray(width * height * 4).fill(255);
  }
  readonly data: Uint8ClampedArray;
  set(x: number, y: number, c: readonly number[]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.data[i] = c[0]!;
    this.data[i + 1] = c[1]!;
    this.data[i + 2] = c[2]!;
  }
  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[], thick = 1): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let d = 0; d < thick; d++) this.set(x, y + d, c);
    }
  }
  text(s: string, x: number, y: number, c: readonly number[], scale = 2): void {
    for (const ch of s) {
      const g = FONT[ch];
      if (g) g.forEach((row, r) => [...row].forEach((bit, k) => {
        if (bit === "1") for (let a = 0; a < scale; a++) for (let b = 0; b < scale; b++) this.set(x + k * scale + a, y + r * scale + b, c);
      }));
      x += 4 * scale;
    }
  }
}

export function drawLossPlot(lrs: readonly number[], losses: readonly number[], suggestions: Record<string, number>): ImageData {
  const cv = new Canvas();
  const pts = lrs.map((lr, i) => [Math.log10(lr), losses[i]!] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const x0 = Math.floor(Math.min(...xs, -7));
  const x1 = Math.ceil(Math.max(...xs, x0 + 1));
  const ymin = Math.min(...ys);
  const ymax = Math.max(ymin + 1e-6, Math.min(Math.max(...ys), (ys[0] ?? ymin) * 1.5));
  const px = (x: number): number => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number): number => H - M.bottom - ((Math.min(y, ymax) - ymin) / (ymax - ymin)) * (H - M.top - M.bottom);
  const axis = [0, 0, 0];
  const grid = [225, 225, 225];
  for (let d = x0; d <= x1; d++) {
    cv.line(px(d), M.top, px(d), H - M.bottom, grid);
    cv.text(`1e${d}`, px(d) - 12, H - M.bottom + 8, axis);
  }
  for (let k = 0; k <= 4; k++) {
    const y = ymin + ((ymax - ymin) * k) / 4;
    cv.line(M.left, py(y), W - M.right, py(y), grid);
    cv.text(y.toFixed(2), 4, py(y) - 5, axis);
  }
  cv.line(M.left, M.top, M.left, H - M.bottom, axis);
  cv.line(M.left, H - M.bottom, W - M.right, H - M.bottom, axis);
  for (const [name, lr] of Object.entries(suggestions)) {
    if (!(lr > 0)) continue;
    const c = SUGGESTION_COLOURS[name] ?? [255, 127, 14];
    for (let y = M.top; y < H - M.bottom; y += 6) cv.line(px(Math.log10(lr)), y, px(Math.log10(lr)), y + 3, c, 1);
  }
  for (let i = 1; i < pts.length; i++) cv.line(px(pts[i - 1]![0]), py(pts[i - 1]![1]), px(pts[i]![0]), py(pts[i]![1]), [31, 119, 180], 2);
  return { data: cv.data, width: W, height: H, colorSpace: "srgb" } as ImageData;
}

let ready: Promise<unknown> | null = null;

async function initEncoder(): Promise<void> {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("@jsquash/png/package.json"));
  ready ??= readFile(join(dir, "codec/pkg/squoosh_png_bg.wasm")).then((b) => WebAssembly.compile(b)).then((m) => init(m));
  await ready;
}

/** RGBA pixels -> PNG bytes (@jsquash/png). */
export async function encodePng(image: ImageData): Promise<Uint8Array> {
  await initEncoder();
  return new Uint8Array(await encode(image));
}

export async function lossPlotPng(lrs: readonly number[], losses: readonly number[], suggestions: Record<string, number>): Promise<Uint8Array> {
  await initEncoder();
  return new Uint8Array(await encode(drawLossPlot(lrs, losses, suggestions)));
}
