import * as tf from "@tensorflow/tfjs-core";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { TrainConfig } from "../config.ts";
import { DataError } from "../data/errors.ts";
import type { ArchSpec, Model } from "../model/types.ts";
import type { EpochRecord } from "./events.ts";
import type { FinetuneStage, RecordedHistory, TrainingSession } from "./history.ts";
import type { Adam, OptimizerState } from "./optimizer.ts";

/**
 * One checkpoint file: weights, BatchNorm buffers, optimiser state, where in the run we are, the
 * resolved config and the metrics so far. Layout (little-endian):
 *   "RNECKPT1" | u32 header length | header JSON (utf-8) | zero pad to 4 bytes | float32 tensor data
 * Written to a temp file and renamed, so a crash mid-write never leaves a half checkpoint.
 */
const MAGIC = "RNECKPT1";

export interface RunProgress {
  /** Index into the run's stages (0 = the first --size/--epochs stage; later ones from --stages). */
  stage: number;
  /** Epochs of this stage completed. */
  epoch: number;
  nEpochs: number;
  /** Schedule position reached within the stage, in [0, 1]. */
  pos: number;
  /** True once the last stage finished. */
  done: boolean;
}

export interface TensorEntry {
  name: string;
  role: "param" | "buffer" | "opt";
  shape: number[];
  offset: number;
  length: number;
}

export interface CheckpointHeader {
  format: "resnet-edge-checkpoint";
  version: 1;
  createdAt: string;
  arch: ArchSpec;
  classes: string[];
  config: TrainConfig | null;
  progress: RunProgress;
  metrics: EpochRecord[];
  /** Every invocation that trained this run (absent in checkpoints written before they were recorded). */
  sessions?: TrainingSession[];
  /** A `trainer finetune` checkpoint: the whole history of the checkpoint it started from ... */
  lineage?: RecordedHistory;
  /** ... and how it was fine-tuned (trainer/src/learner/history.ts, checkpointHistory). */
  finetune?: Omit<FinetuneStage, "baseLr">;
  optimizer: Omit<OptimizerState, "tensors"> | null;
  tensors: TensorEntry[];
}

export interface Checkpoint {
  header: CheckpointHeader;
  /** name -> values, for role param/buffer (by parameter name) and opt (by `<param>.<slot>`). */
  data: Map<string, { role: TensorEntry["role"]; shape: number[]; values: Float32Array }>;
}

export interface SaveCheckpointInput {
  model: Model;
  opt?: Adam;
  classes: string[];
  config: TrainConfig | null;
  progress: RunProgress;
  metrics: EpochRecord[];
  sessions?: TrainingSession[];
  lineage?: RecordedHistory;
  finetune?: Omit<FinetuneStage, "baseLr">;
}

export async function saveCheckpoint(path: string, input: SaveCheckpointInput): Promise<void> {
  const chunks: Float32Array[] = [];
  const tensors: TensorEntry[] = [];
  let offset = 0;
  const add = async (name: string, role: TensorEntry["role"], t: tf.Tensor): Promise<void> => {
    const values = (await t.data()) as Float32Array;
    tensors.push({ name, role, shape: t.shape, offset, length: values.length });
    chunks.push(values);
    offset += values.length;
  };
  for (const p of input.model.parameters()) await add(p.name, "param", p.variable);
  for (const b of input.model.buffers()) await add(b.name, "buffer", b.variable);
  let optimizer: CheckpointHeader["optimizer"] = null;
  if (input.opt) {
    const state = input.opt.state();
    try {
      for (const [name, t] of Object.entries(state.tensors)) await add(name, "opt", t);
    } finally {
      tf.dispose(Object.values(state.tensors));
    }
    optimizer = { groups: state.groups, steps: state.steps };
  }
  const header: CheckpointHeader = {
    format: "resnet-edge-checkpoint",
    version: 1,
    createdAt: new Date().toISOString(),
    arch: input.model.arch,
    classes: input.classes,
    config: input.config,
    progress: input.progress,
    metrics: input.metrics,
    ...(input.sessions ? { sessions: input.sessions } : {}),
    ...(input.lineage ? { lineage: input.lineage } : {}),
    ...(input.finetune ? { finetune: input.finetune } : {}),
    optimizer,
    tensors,
  };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const pre = 8 + 4 + json.length;
  const pad = (4 - (pre % 4)) % 4;
  const buf = Buffer.alloc(pre + pad + offset * 4);
  buf.write(MAGIC, 0, "ascii");
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  const body = new Float32Array(buf.buffer, buf.byteOffset + pre + pad, offset);
  for (let i = 0, at = 0; i < chunks.length; i++) {
    body.set(chunks[i]!, at);
    at += chunks[i]!.length;
  }
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, buf);
  await rename(tmp, path);
}

export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(
      code === "ENOENT"
        ? `no checkpoint at ${path}: train first (trainer run --out <dir>) or point at an existing run folder`
        : `cannot read checkpoint ${path}: ${(e as Error).message}`,
      { path },
    );
  }
  if (buf.length < 12 || buf.toString("ascii", 0, 8) !== MAGIC) {
    throw new DataError(`${path} is not a resnet-edge checkpoint (bad magic): pass the checkpoint.bin a trainer run wrote`, { path });
  }
  const len = buf.readUInt32LE(8);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.toString("utf8", 12, 12 + len)) as CheckpointHeader;
  } catch {
    throw new DataError(`${path} has a corrupt header: the file is damaged; resume from an earlier copy or retrain`, { path });
  }
  if (header.format !== "resnet-edge-checkpoint" || header.version !== 1) {
    throw new DataError(`${path} is checkpoint format ${header.format} v${header.version}; this trainer reads v1`, { path });
  }
  const pre = 12 + len;
  const start = pre + ((4 - (pre % 4)) % 4);
  const total = header.tensors.reduce((a, t) => a + t.length, 0);
  if (buf.length < start + total * 4) {
    throw new DataError(`${path} is truncated (${buf.length} bytes, expected ${start + total * 4}): resume from an earlier copy or retrain`, { path });
  }
  const aligned = new Float32Array(total);
  aligned.set(new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + total * 4)));
  const data: Checkpoint["data"] = new Map();
  for (const t of header.tensors) {
    data.set(t.name, { role: t.role, shape: t.shape, values: aligned.subarray(t.offset, t.offset + t.length) });
  }
  return { header, data };
}

/** Copy weights (and optimiser state, when `opt` is given) from a checkpoint into a built model. */
export function applyCheckpoint(ckpt: Checkpoint, model: Model, opt?: Adam): void {
  const assign = (name: string, v: tf.Variable, role: TensorEntry["role"]): void => {
    const entry = ckpt.data.get(name);
    if (!entry || entry.role !== role) {
      throw new DataError(`checkpoint has no ${role} ${name}: it was written for a different architecture (${ckpt.header.arch.name})`);
    }
    if (entry.shape.join("x") !== v.shape.join("x")) {
      throw new DataError(`checkpoint ${role} ${name} is [${entry.shape}] but the model expects [${v.shape}]: architectures differ`);
    }
    v.assign(tf.tensor(entry.values, entry.shape, "float32"));
  };
  tf.tidy(() => {
    for (const p of model.parameters()) assign(p.name, p.variable, "param");
    for (const b of model.buffers()) assign(b.name, b.variable, "buffer");
  });
  if (opt && ckpt.header.optimizer) {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, e] of ckpt.data) if (e.role === "opt") tensors[name] = tf.tensor(e.values, e.shape, "float32");
    try {
      opt.loadState({ ...ckpt.header.optimizer, tensors });
    } finally {
      tf.dispose(Object.values(tensors));
    }
  }
}
