/**
 * A run's training history, as the manifest records it (issue 14): every stage (size, epochs, peak lr, its
 * epoch table and wall time) and every invocation that trained it (`trainer run`, then each `--resume`): the
 * command, when it started, where it resumed and what it ran on (cores, CPU model, memory, Node, backend and
 * threads; never a host name or a path: manifests travel).
 *
 * Checkpoints written before sessions were recorded have none; their history still has the stages, with the
 * stage of each epoch derived from the config, and `command` rebuilt from the saved config (the canonical
 * `trainer run` command that reproduces it), marked as rebuilt.
 */
import { cpus, totalmem } from "node:os";
import { CONFIG_FIELDS, CONFIG_KEYS, DEFAULT_CONFIG, stagesOf, type TrainConfig } from "../config.ts";
import { kebab } from "../commands/flags.ts";
import type { EpochRecord } from "./events.ts";
import { multiSizeSet } from "../data/multi-size.ts";
import { ARCHITECTURES, totalStride } from "../model/arch-table.ts";

export interface HostInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  node: string;
}

export interface TrainingSession {
  /** The command as typed, after `trainer` (paths are cut to their last segment when the manifest is written). */
  argv: string[];
  startedAt: string;
  /** Where a `--resume` picked the run up; null for the invocation that started it. */
  resumedAt: { stage: number; epoch: number } | null;
  host: HostInfo;
  backend: string;
  threads: number;
  /** With the wasm backend: which build of our kernels ran ("relaxed-simd": fused multiply-add, or "simd"). */
  kernels?: string;
}

export interface StageHistory {
  stage: number;
  size: number;
  epochs: number;
  lr: number;
  multiSize: boolean;
  /** With multiSize: the short sides this stage's batches were drawn from (trainer/src/data/multi-size.ts). */
  shortSides?: number[];
  /** Wall seconds of this stage's epochs (training + validation; not the data loading before the first). */
  seconds: number;
  accuracy: number | null;
  epochTable: EpochRecord[];
  /** A stage trained by `trainer finetune` on the checkpoint of the stages before it. */
  finetune?: FinetuneStage;
}

/** What a `trainer finetune` stage started from and how it trained (its command is in `sessions`). */
export interface FinetuneStage {
  /** The run it started from: `<run>/<file>`, never where it lived. */
  from: string;
  /** `--lr`, fastai's base_lr: the frozen phase peaks there, the unfrozen one at half of it (the stage's `lr`). */
  baseLr: number;
  freezeEpochs: number;
  lrMult: number;
  feedbackImages: number;
  /** Classes it added to the head. */
  added: string[];
}

export interface TrainingHistory {
  /** The canonical `trainer run` command for the saved config. */
  command: string[];
  stages: StageHistory[];
  sessions: TrainingSession[];
  totalSeconds: number;
}

export function hostInfo(): HostInfo {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: (c[0]?.model ?? "unknown").replace(/\s+/g, " ").trim(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
  };
}

/** `trainer run` flags that reproduce `config` (every field that differs from the defaults; out and data always). */
export function commandFromConfig(config: TrainConfig): string[] {
  const out = ["trainer", "run"];
  for (const key of CONFIG_KEYS) {
    const v = config[key] as unknown;
    const d = DEFAULT_CONFIG[key] as unknown;
    if (key === "stages") {
      if (config.stages.length > 0) out.push("--stages", config.stages.map((s) => `${s.size}:${s.epochs}:${s.lr}`).join(","));
      continue;
    }
    if (key !== "out" && key !== "data" && JSON.stringify(v) === JSON.stringify(d)) continue;
    if (CONFIG_FIELDS[key].kind === "boolean") out.push(v ? `--${kebab(key)}` : `--no-${kebab(key)}`);
    else out.push(`--${kebab(key)}`, v === null ? "none" : String(v));
  }
  return out;
}

/** Each epoch's stage: recorded on the epoch since sessions were recorded, else from the config's stage lengths. */
function stageOfEpochs(config: TrainConfig, metrics: EpochRecord[]): number[] {
  const bounds: number[] = [];
  stagesOf(config).forEach((s, i) => {
    for (let e = 0; e < s.epochs; e++) bounds.push(i);
  });
  return metrics.map((m, i) => m.stage ?? bounds[i] ?? bounds.length - 1);
}

export type RecordedHistory = TrainingHistory & { commandRebuilt?: true };

export function trainingHistory(config: TrainConfig, metrics: EpochRecord[], sessions: TrainingSession[] | undefined): RecordedHistory {
  const stageOf = stageOfEpochs(config, metrics);
  const stages = stagesOf(config).map((s, i): StageHistory => {
    const table = metrics.filter((_, j) => stageOf[j] === i);
    const last = table[table.length - 1];
    return {
      stage: i,
      size: s.size,
      epochs: s.epochs,
      lr: s.lr,
      multiSize: config.multiSize,
      ...(config.multiSize ? { shortSides: multiSizeSet(s.size, totalStride(ARCHITECTURES[config.arch]), config.multiSizeMin) } : {}),
      seconds: Math.round(table.reduce((a, m) => a + m.seconds, 0) * 10) / 10,
      accuracy: last ? last.accuracy : null,
      epochTable: table.map((m) => ({ ...m, stage: i })),
    };
  });
  return {
    command: commandFromConfig(config),
    ...(sessions && sessions.length > 0 ? {} : { commandRebuilt: true as const }),
    stages,
    sessions: sessions ?? [],
    totalSeconds: Math.round(stages.reduce((a, s) => a + s.seconds, 0) * 10) / 10,
  };
}

/**
 * The history a checkpoint records. A `trainer finetune` checkpoint carries the history of the checkpoint it
 * started from (`lineage`, itself possibly a fine-tune); its own epochs become one more stage after those,
 * and its invocation one more session, so a model trained as `run` then `finetune` (then `finetune` ...) is
 * recorded whole. `command` stays the first run's.
 */
export function checkpointHistory(header: {
  config: TrainConfig | null;
  metrics: EpochRecord[];
  sessions?: TrainingSession[];
  lineage?: RecordedHistory;
  finetune?: Omit<FinetuneStage, "baseLr">;
}): RecordedHistory | undefined {
  const { config, metrics, sessions, lineage, finetune } = header;
  if (!config) return undefined;
  if (!finetune) return trainingHistory(config, metrics, sessions);
  const index = lineage?.stages.length ?? 0;
  const last = metrics[metrics.length - 1];
  const seconds = Math.round(metrics.reduce((a, m) => a + m.seconds, 0) * 10) / 10;
  const stage: StageHistory = {
    stage: index,
    size: config.size,
    epochs: metrics.length,
    // fine_tune halves base_lr for the unfrozen epochs (trainer/src/learner/fine-tune.ts): their peak, the head's.
    lr: config.lr / 2,
    multiSize: config.multiSize,
    ...(config.multiSize ? { shortSides: multiSizeSet(config.size, totalStride(ARCHITECTURES[config.arch]), config.multiSizeMin) } : {}),
    seconds,
    accuracy: last ? last.accuracy : null,
    // Checkpoints of fine-tunes before records carried their size: the stage's size.
    epochTable: metrics.map((m) => ({ size: config.size, ...m, stage: index })),
    finetune: { ...finetune, baseLr: config.lr },
  };
  const stages = [...(lineage?.stages ?? []), stage];
  return {
    command: lineage?.command ?? commandFromConfig(config),
    ...(lineage?.commandRebuilt || !lineage ? { commandRebuilt: true as const } : {}),
    stages,
    sessions: [...(lineage?.sessions ?? []), ...(sessions ?? [])],
    totalSeconds: Math.round(stages.reduce((a, s) => a + s.seconds, 0) * 10) / 10,
  };
}
