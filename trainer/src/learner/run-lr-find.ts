import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TrainConfig } from "../config.ts";
import { asciiLossChart } from "./ascii-chart.ts";
import { lrFind, type LrFindOptions, type LrFindResult } from "./lr-find.ts";
import { lossPlotPng } from "./loss-plot-png.ts";
import { buildModel, consoleIO, learnerFromConfig, loadDataset, scanData, setupBackend, type RunIO } from "./setup.ts";

/** `trainer lr-find`: a fresh model on the run's data; prints suggestions and a chart, writes lr-find.png. */
export async function runLrFind(
  config: TrainConfig,
  opts: { io?: RunIO; find?: LrFindOptions } = {},
): Promise<LrFindResult & { png: string }> {
  const io = opts.io ?? consoleIO;
  const scanned = await scanData(config, io);
  await setupBackend(config, io);
  const dataset = await loadDataset(config, io, scanned);
  const model = buildModel(config, dataset.classes.length);
  const learner = learnerFromConfig(config, model, dataset);
  try {
    const result = await lrFind(learner, opts.find);
    const { valley, steep, minimum } = result.suggestions;
    const marks = { valley: valley.lr, steep: steep.lr, minimum: minimum.lr };
    io.write(asciiLossChart(result.lrs, result.losses, marks));
    io.write(`suggestions: valley ${fmt(valley.lr)}  steep ${fmt(steep.lr)}  minimum ${fmt(minimum.lr)}${result.diverged ? "  (stopped early: loss diverged)" : ""}`);
    await mkdir(config.out, { recursive: true });
    const png = join(config.out, "lr-find.png");
    await writeFile(png, await lossPlotPng(result.lrs, result.losses, marks));
    await writeFile(join(config.out, "lr-find.json"), `${JSON.stringify({ ...result, config }, null, 2)}\n`);
    io.write(`plot: ${png} (dashed lines: red valley, green steep, purple minimum)`);
    return { ...result, png };
  } finally {
    learner.dispose();
    model.dispose();
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : "n/a";
}
