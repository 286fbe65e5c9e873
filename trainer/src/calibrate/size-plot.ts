/**
 * The accuracy-vs-short-side curve of `trainer calibrate`, drawn like lr_find's: an ASCII chart for the
 * terminal and a PNG (one line per aspect ratio, the mean thick, the chosen size as a dashed line).
 */
import type { SizeCalibration } from "@resnet-edge/shared";
import { Canvas, encodePng } from "../learner/loss-plot-png.ts";

/** Mean top-1 (`*`) and the worst aspect (`.`) against short side; `b` marks the served size, `t` the training size. */
export function asciiSizeChart(c: SizeCalibration, opts: { width?: number; height?: number } = {}): string {
  const width = opts.width ?? 60;
  const height = opts.height ?? 12;
  const xs = c.points.map((p) => p.shortSide);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const worst = c.points.map((p) => Math.min(...p.top1));
  const y0 = Math.min(...worst);
  const y1 = Math.max(y0 + 1e-9, ...c.points.map((p) => p.meanTop1));
  const grid = Array.from({ length: height }, () => new Array<string>(width).fill(" "));
  const col = (x: number): number => Math.round(((x - x0) / (x1 - x0 || 1)) * (width - 1));
  const row = (y: number): number => height - 1 - Math.round(((y - y0) / (y1 - y0)) * (height - 1));
  // The marks go on a line of their own above the chart, so a point never hides them.
  const marks = new Array<string>(width).fill(" ");
  for (const [label, x] of [["t", c.trainingSize], ["b", c.best]] as const) {
    if (x < x0 || x > x1) continue;
    for (let r = 0; r < height; r++) grid[r]![col(x)] = ":";
    marks[col(x)] = marks[col(x)] === " " ? label : "B";
  }
  c.points.forEach((p, i) => {
    grid[row(worst[i]!)]![col(p.shortSide)] = ".";
    grid[row(p.meanTop1)]![col(p.shortSide)] = "*";
  });
  const yLabel = (v: number): string => `${(v * 100).toFixed(1)}%`.padStart(8);
  const lines = [`${" ".repeat(10)}${marks.join("").trimEnd()}`];
  lines.push(...grid.map((cells, r) => `${r === 0 ? yLabel(y1) : r === height - 1 ? yLabel(y0) : " ".repeat(8)} |${cells.join("")}`));
  lines.push(`${" ".repeat(9)}+${"-".repeat(width)}`);
  const left = String(x0);
  const right = String(x1);
  lines.push(`${" ".repeat(10)}${left}${" ".repeat(Math.max(1, width - left.length - right.length - 18))}short side (px)  ${right}`);
  lines.push(`${" ".repeat(10)}* mean over aspects, . worst aspect, b served size, t training size (B: both)`);
  return lines.join("\n");
}

const W = 640;
const H = 400;
const M = { left: 60, right: 20, top: 20, bottom: 40 };
const ASPECT_COLOURS: [number, number, number][] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
];

export function drawSizePlot(c: SizeCalibration): ImageData {
  const cv = new Canvas(W, H);
  const xs = c.points.map((p) => p.shortSide);
  const all = c.points.flatMap((p) => p.top1);
  const x0 = Math.min(...xs);
  const x1 = Math.max(x0 + 1, ...xs);
  const ymin = Math.floor(Math.min(...all) * 20) / 20;
  const ymax = Math.max(ymin + 0.05, Math.ceil(Math.max(...all) * 20) / 20);
  const px = (x: number): number => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number): number => H - M.bottom - ((y - ymin) / (ymax - ymin)) * (H - M.top - M.bottom);
  const axis = [0, 0, 0];
  const grid = [225, 225, 225];
  for (const x of xs) {
    cv.line(px(x), M.top, px(x), H - M.bottom, grid);
    cv.text(String(x), px(x) - 8, H - M.bottom + 8, axis);
  }
  for (let k = 0; k <= 4; k++) {
    const y = ymin + ((ymax - ymin) * k) / 4;
    cv.line(M.left, py(y), W - M.right, py(y), grid);
    cv.text((y * 100).toFixed(0), 20, py(y) - 5, axis);
  }
  cv.line(M.left, M.top, M.left, H - M.bottom, axis);
  cv.line(M.left, H - M.bottom, W - M.right, H - M.bottom, axis);
  for (let y = M.top; y < H - M.bottom; y += 6) cv.line(px(c.best), y, px(c.best), y + 3, [214, 39, 40]);
  c.aspects.forEach((_, a) => {
    const colour = ASPECT_COLOURS[a % ASPECT_COLOURS.length]!;
    for (let i = 1; i < c.points.length; i++) cv.line(px(c.points[i - 1]!.shortSide), py(c.points[i - 1]!.top1[a]!), px(c.points[i]!.shortSide), py(c.points[i]!.top1[a]!), colour, 1);
  });
  for (let i = 1; i < c.points.length; i++) cv.line(px(c.points[i - 1]!.shortSide), py(c.points[i - 1]!.meanTop1), px(c.points[i]!.shortSide), py(c.points[i]!.meanTop1), [0, 0, 0], 3);
  return { data: cv.data, width: W, height: H, colorSpace: "srgb" } as ImageData;
}

export async function sizePlotPng(c: SizeCalibration): Promise<Uint8Array> {
  return encodePng(drawSizePlot(c));
}
