/**
 * A small terminal chart of loss against learning rate (log x axis), with the suggestions marked:
 * `v` valley, `s` steep, `m` minimum.
 */
export function asciiLossChart(
  lrs: readonly number[],
  losses: readonly number[],
  marks: Record<string, number> = {},
  opts: { width?: number; height?: number } = {},
): string {
  const width = opts.width ?? 60;
  const height = opts.height ?? 12;
  const pts = lrs.map((lr, i) => [Math.log10(lr), losses[i]!] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length < 2) return "(not enough points to plot)";
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  // Clip the y range to the first loss * 1.5 so a final blow-up does not flatten the curve.
  const y0 = Math.min(...ys);
  const y1 = Math.max(y0 + 1e-9, Math.min(Math.max(...ys), ys[0]! * 1.5));
  const grid = Array.from({ length: height }, () => new Array<string>(width).fill(" "));
  const col = (x: number): number => Math.round(((x - x0) / (x1 - x0 || 1)) * (width - 1));
  const row = (y: number): number => height - 1 - Math.round(((Math.min(y, y1) - y0) / (y1 - y0)) * (height - 1));
  for (const [x, y] of pts) grid[row(y)]![col(x)] = "*";
  for (const [label, lr] of Object.entries(marks)) {
    if (!(lr > 0)) continue;
    const c = col(Math.log10(lr));
    if (c < 0 || c >= width) continue;
    for (let r = 0; r < height; r++) if (grid[r]![c] === " ") grid[r]![c] = ":";
    grid[0]![c] = label[0]!;
  }
  const yLabel = (v: number): string => v.toFixed(3).padStart(8);
  const lines = grid.map((cells, r) => `${r === 0 ? yLabel(y1) : r === height - 1 ? yLabel(y0) : " ".repeat(8)} |${cells.join("")}`);
  lines.push(`${" ".repeat(9)}+${"-".repeat(width)}`);
  const left = `1e${x0.toFixed(1)}`;
  const right = `1e${x1.toFixed(1)}`;
  lines.push(`${" ".repeat(10)}${left}${" ".repeat(Math.max(1, width - left.length - right.length - 8))}lr (log)  ${right}`);
  return lines.join("\n");
}
