import type { TrainConfig } from "../../config.ts";
import { saveCheckpoint } from "../checkpoint.ts";
import type { Callback, EpochRecord } from "../events.ts";
import type { FinetuneStage, RecordedHistory, TrainingSession } from "../history.ts";
import type { Learner } from "../learner.ts";

export interface SaveCheckpointOptions {
  path: string;
  learner: Learner;
  config: TrainConfig | null;
  stage: number;
  nStages: number;
  /** Epoch records of earlier stages, so the checkpoint carries the whole run's metrics. */
  previous: EpochRecord[];
  /** This stage's input size, recorded on each epoch. */
  size?: number;
  /** The invocations that trained the run so far, this one last. */
  sessions?: TrainingSession[];
  /** The stage stamped on each epoch record when it is not `stage`: a fine-tune's records say 0 (its own stage), its progress says which of fine_tune's two phases it is in. */
  recordStage?: number;
  /** A fine-tune's history before it and how it fine-tunes, carried in every checkpoint it writes. */
  lineage?: RecordedHistory;
  finetune?: Omit<FinetuneStage, "baseLr">;
}

/** What every epoch record carries beyond fitOneCycle's figures: its stage, input size and end time. */
export function stampEpochRecord(record: EpochRecord, stage: number, size: number | undefined): void {
  Object.assign(record, { stage, ...(size !== undefined ? { size } : {}), endedAt: new Date().toISOString() });
}

/**
 * After every epoch, write weights + optimiser state + (stage, epoch, schedule position) + config +
 * metrics, replacing the previous checkpoint atomically. An interrupted run loses at most one epoch.
 */
export function saveCheckpointEachEpoch(opts: SaveCheckpointOptions): Callback {
  const records: EpochRecord[] = [];
  return {
    name: "save-checkpoint",
    order: 50,
    async afterEpoch(e) {
      // The record is the one fitOneCycle returns: the run's metrics.json and the checkpoint both carry these.
      stampEpochRecord(e.record, opts.recordStage ?? opts.stage, opts.size);
      records.push(e.record);
      const last = e.epoch + 1 === e.nEpochs;
      await saveCheckpoint(opts.path, {
        model: opts.learner.model,
        opt: opts.learner.opt,
        classes: opts.learner.dls.classes,
        config: opts.config,
        progress: { stage: opts.stage, epoch: e.epoch + 1, nEpochs: e.nEpochs, pos: e.pos, done: last && opts.stage === opts.nStages - 1 },
        metrics: [...opts.previous, ...records],
        ...(opts.sessions ? { sessions: opts.sessions } : {}),
        ...(opts.lineage ? { lineage: opts.lineage } : {}),
        ...(opts.finetune ? { finetune: opts.finetune } : {}),
      });
    },
  };
}
