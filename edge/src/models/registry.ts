// One loaded session per model name per isolate, and hot swap when the R2 pointer changes.
//
// - The pointer is read at most every `pollSeconds` (0: every request), so publishing a version (rewriting
//   active.json) is picked up without a redeploy.
// - A new version loads in the background while the old session keeps serving (hotSwap "overlap"); requests switch over
//   only once the new session is ready, and the old session is released after its last request.
// - A version that fails (missing object, bad manifest, sha256 mismatch, ORT refusing it) is remembered
//   and not retried until the pointer is written again; the previous good version keeps serving.
// - `hotSwap: "drain"` (the worker's default, HOT_SWAP): a new version's files are read and checked while the
//   old session serves; then the old session is released (after its in-flight requests) before the new one
//   is created, so ORT never holds two versions at once. Requests that arrive meanwhile wait for the new
//   session (its create time: 45-220 ms for ResNet-18 int8 in local workerd). ORT's heap never shrinks and two sessions at
//   once fragment it: overlapping swaps took it to 71.1 MiB even with 64x64 tensors, draining ones keep it at
//   49.4 (bench/edge/session-heap.ts, edge/README.md "Memory budget"). If ORT refuses the new version, the
//   old one is loaded again from R2 and serves. "overlap" keeps the old session serving during the load.
// - At most `maxSessions` models keep a session per isolate: loading one more retires the least recently
//   used model's session (released after its last in-flight request; the model reloads on its next
//   request). ORT's wasm heap never shrinks, so the cap is what bounds it across models.
import type { ModelManifest } from "@resnet-edge/shared";
import { listModelNames, type ModelBucket, ModelLoadError, readManifest, readModelFile, readPointer, type Pointer } from "./store.ts";

export interface InferenceResult {
  data: Float32Array;
  dims: readonly number[];
}

/** What the registry needs from an inference engine (onnxruntime-web in the worker). */
export interface ModelSession {
  run(data: Float32Array, dims: readonly number[]): Promise<InferenceResult>;
  release(): Promise<void>;
}

export type SessionFactory = (onnx: Uint8Array, manifest: ModelManifest) => Promise<ModelSession>;

export interface LoadTiming {
  /** Pointer + manifest + ONNX read from R2 and sha256 check. */
  readMs: number;
  sessionMs: number;
  bytes: number;
}

export interface LoadedModel {
  name: string;
  version: string;
  /** The ONNX file serving: the manifest's model, or the preferred variant (e.g. model.int8.onnx). */
  file: string;
  manifest: ModelManifest;
  session: ModelSession;
  loadedAt: string;
  timing: LoadTiming;
}

export interface LoadFailure {
  version: string | null;
  code: string;
  message: string;
  at: string;
}

export interface ModelStatus {
  name: string;
  /** The version serving requests, if any. */
  serving: { version: string; file: string; loadedAt: string; timing: LoadTiming } | null;
  /** A version being loaded in the background. */
  loading: string | null;
  /** The most recent failure to load a version (cleared when a version loads). */
  lastError: LoadFailure | null;
}

/** Thrown by `use` when a model cannot serve; `status` is 404 for unknown names, 503 otherwise. */
export class ModelUnavailableError extends Error {
  override readonly name = "ModelUnavailableError";
  constructor(
    readonly status: 404 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Slot {
  current: LoadedModel | null;
  inFlight: Map<LoadedModel, number>;
  retired: Set<LoadedModel>;
  loading: { key: string; version: string; promise: Promise<void> } | null;
  failed: { key: string; failure: LoadFailure } | null;
  lastError: LoadFailure | null;
  checkedAt: number;
  /** When `use` last picked this model (the LRU order for `maxSessions`). */
  usedAt: number;
}

export interface RegistryOptions {
  bucket: ModelBucket;
  createSession: SessionFactory;
  pollSeconds: number;
  /** Serve manifest.variants[variant] when the manifest has it (e.g. "int8"), else the fp32 model. */
  variant?: string;
  /** Most models with a live session in this isolate (MAX_SESSIONS); default unlimited. */
  maxSessions?: number;
  /** How a new version replaces the serving one (HOT_SWAP): "overlap" (default here) or "drain" (see the top of the file). */
  hotSwap?: HotSwap;
  now?: () => number;
}

export type HotSwap = "overlap" | "drain";

export type WaitUntil = (p: Promise<unknown>) => void;

/** What the HTTP layer needs from the registry (route tests substitute a fake without ORT or R2). */
export interface Models {
  use<T>(name: string, fn: (model: LoadedModel) => Promise<T>, waitUntil?: WaitUntil): Promise<T>;
  status(name: string): ModelStatus;
  manifest(name: string): Promise<ModelManifest>;
  names(): Promise<string[]>;
}

export class ModelRegistry implements Models {
  private readonly slots = new Map<string, Slot>();
  private readonly now: () => number;
  /** Monotonic use counter for the LRU order (the injected clock may stand still in tests). */
  private uses = 0;
  /** Resolvers of drains waiting for a retired session's release. */
  private readonly releaseWaiters = new Map<LoadedModel, () => void>();

  constructor(private readonly opts: RegistryOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Run `fn` with the serving version of `name`, loading it first if nothing serves yet. The version
   * cannot be released while `fn` runs. `waitUntil` keeps a background load alive after the response.
   */
  async use<T>(name: string, fn: (model: LoadedModel) => Promise<T>, waitUntil: WaitUntil = () => {}): Promise<T> {
    const model = await this.resolve(name, waitUntil);
    const slot = this.slot(name);
    slot.usedAt = ++this.uses;
    slot.inFlight.set(model, (slot.inFlight.get(model) ?? 0) + 1);
    try {
      return await fn(model);
    } finally {
      const left = (slot.inFlight.get(model) ?? 1) - 1;
      if (left > 0) slot.inFlight.set(model, left);
      else slot.inFlight.delete(model);
      if (left <= 0 && slot.retired.has(model)) this.releaseRetired(slot, model);
    }
  }

  /** Names of the models in the bucket (whether loaded or not). */
  names(): Promise<string[]> {
    return listModelNames(this.opts.bucket);
  }

  status(name: string): ModelStatus {
    const slot = this.slots.get(name);
    const c = slot?.current;
    return {
      name,
      serving: c ? { version: c.version, file: c.file, loadedAt: c.loadedAt, timing: c.timing } : null,
      loading: slot?.loading?.version ?? null,
      lastError: slot?.lastError ?? null,
    };
  }

  /** The manifest of the serving version if loaded; otherwise of the active version in R2 (no session). */
  async manifest(name: string): Promise<ModelManifest> {
    const current = this.slots.get(name)?.current;
    if (current) return current.manifest;
    const pointer = await this.pointerOrThrow(name);
    try {
      return await readManifest(this.opts.bucket, name, pointer.version);
    } catch (e) {
      throw this.unavailable(e);
    }
  }

  private slot(name: string): Slot {
    let s = this.slots.get(name);
    if (!s) {
      s = { current: null, inFlight: new Map(), retired: new Set(), loading: null, failed: null, lastError: null, checkedAt: -Infinity, usedAt: 0 };
      this.slots.set(name, s);
    }
    return s;
  }

  private async pointerOrThrow(name: string): Promise<Pointer> {
    let pointer: Pointer | null;
    try {
      pointer = await readPointer(this.opts.bucket, name);
    } catch (e) {
      throw this.unavailable(e);
    }
    if (!pointer) {
      throw new ModelUnavailableError(404, "model_not_found", `no model named "${name}": models/${name}/active.json does not exist; GET /v1/models lists the models`);
    }
    return pointer;
  }

  private unavailable(e: unknown): ModelUnavailableError {
    if (e instanceof ModelUnavailableError) return e;
    const code = e instanceof ModelLoadError ? e.code : "model_load_failed";
    return new ModelUnavailableError(503, code, (e as Error).message);
  }

  private async resolve(name: string, waitUntil: WaitUntil): Promise<LoadedModel> {
    const slot = this.slot(name);
    const now = this.now();
    if (slot.current && now - slot.checkedAt < this.opts.pollSeconds * 1000) return slot.current;
    slot.checkedAt = now;

    let pointer: Pointer;
    try {
      pointer = await this.pointerOrThrow(name);
    } catch (e) {
      const err = this.unavailable(e);
      if (!slot.current) throw err;
      // The pointer vanished or R2 hiccupped: keep serving what we have, and say so in /readyz.
      slot.lastError = { version: null, code: err.code, message: err.message, at: new Date(now).toISOString() };
      return slot.current;
    }
    if (slot.current && slot.current.version === pointer.version) {
      // The pointer is on the serving version (again): a failure of a version it pointed at meanwhile
      // no longer applies, and a load of that version is no longer wanted (it is dropped when it ends).
      slot.lastError = null;
      slot.failed = null;
      slot.loading = null;
      return slot.current;
    }

    const key = `${pointer.version}@${pointer.uploaded}`;
    if (slot.failed?.key === key) {
      if (slot.current) return slot.current;
      throw new ModelUnavailableError(503, slot.failed.failure.code, `model ${name} version ${pointer.version} failed to load: ${slot.failed.failure.message}`);
    }
    if (slot.loading?.key !== key) {
      const promise = this.load(name, pointer.version, key, slot);
      slot.loading = { key, version: pointer.version, promise };
    }
    if (slot.current) {
      waitUntil(slot.loading.promise);
      return slot.current;
    }
    // Nothing serves yet: wait for this load, or for a newer one that superseded it meanwhile.
    while (!slot.current && slot.loading) await slot.loading.promise;
    if (slot.current) return slot.current;
    const f = slot.failed?.failure;
    throw new ModelUnavailableError(503, f?.code ?? "model_load_failed", `model ${name} version ${pointer.version} failed to load: ${f?.message ?? "unknown error"}`);
  }

  /** Load a version; on success swap it in, on failure record why. Never rejects. */
  private async load(name: string, version: string, key: string, slot: Slot): Promise<void> {
    try {
      const t0 = this.now();
      const manifest = await readManifest(this.opts.bucket, name, version);
      const file = (this.opts.variant ? manifest.variants?.[this.opts.variant] : undefined) ?? manifest.model;
      const bytes = await readModelFile(this.opts.bucket, name, version, file);
      const t1 = this.now();
      // Make room first, so the allocator can reuse what the evicted sessions free.
      let drained: LoadedModel | null = null;
      if (!slot.current) this.evictFor(slot);
      else if (this.opts.hotSwap === "drain") {
        if (slot.loading?.key !== key) return; // the pointer moved on while the files were read: keep serving
        drained = slot.current;
        await this.drain(slot, drained);
      }
      let session: ModelSession;
      try {
        session = await this.opts.createSession(bytes, manifest);
      } catch (e) {
        if (drained) await this.restore(slot, drained);
        throw new ModelLoadError("session_failed", `onnxruntime could not load ${name}/${version}/${file.file}: ${(e as Error).message}`);
      }
      const t2 = this.now();
      if (slot.loading?.key !== key) {
        // The pointer moved on while this version loaded; the newer load will swap in instead.
        await session.release();
        return;
      }
      const loaded: LoadedModel = {
        name,
        version,
        file: file.file,
        manifest,
        session,
        loadedAt: new Date(t2).toISOString(),
        timing: { readMs: t1 - t0, sessionMs: t2 - t1, bytes: bytes.byteLength },
      };
      const old = slot.current;
      slot.current = loaded;
      slot.failed = null;
      slot.lastError = null;
      if (old) {
        slot.retired.add(old);
        if (!slot.inFlight.has(old)) this.releaseRetired(slot, old);
      }
    } catch (e) {
      const failure: LoadFailure = {
        version,
        code: e instanceof ModelLoadError ? e.code : "model_load_failed",
        message: (e as Error).message,
        at: new Date(this.now()).toISOString(),
      };
      slot.failed = { key, failure };
      slot.lastError = failure;
      console.error(`model ${name}/${version} failed to load: ${failure.code}: ${failure.message}`);
    } finally {
      if (slot.loading?.key === key) slot.loading = null;
    }
  }

  /** Models with a session (serving, or retired and waiting for their last request). */
  liveSessions(): number {
    let n = 0;
    for (const s of this.slots.values()) n += (s.current ? 1 : 0) + s.retired.size;
    return n;
  }

  /**
   * Retire least recently used models until `slot` can add a session within maxSessions. A retired
   * model's in-flight requests finish on it; its session is released after the last one.
   */
  private evictFor(slot: Slot): void {
    const max = this.opts.maxSessions ?? Infinity;
    const serving = () => [...this.slots.values()].filter((s) => s !== slot && s.current);
    for (let others = serving(); others.length >= max; others = serving()) {
      const lru = others.reduce((a, b) => (b.usedAt < a.usedAt ? b : a));
      const old = lru.current!;
      lru.current = null;
      lru.checkedAt = -Infinity;
      lru.retired.add(old);
      if (!lru.inFlight.has(old)) this.releaseRetired(lru, old);
    }
  }

  private releaseRetired(slot: Slot, model: LoadedModel): void {
    slot.retired.delete(model);
    model.session
      .release()
      .catch((e) => console.error(`releasing ${model.name}/${model.version} failed: ${(e as Error).message}`))
      .finally(() => {
        this.releaseWaiters.get(model)?.();
        this.releaseWaiters.delete(model);
      });
  }

  /** hotSwap "drain": take `old` out of service and wait until its session is released (after its in-flight requests). */
  private async drain(slot: Slot, old: LoadedModel): Promise<void> {
    const released = new Promise<void>((resolve) => this.releaseWaiters.set(old, resolve));
    slot.current = null; // requests from now on wait for the load (resolve: "nothing serves yet")
    slot.retired.add(old);
    if (!slot.inFlight.has(old)) this.releaseRetired(slot, old);
    await released;
  }

  /** After a drained swap failed in ORT: load the drained version again from R2, so it serves as before. */
  private async restore(slot: Slot, old: LoadedModel): Promise<void> {
    try {
      const file = (this.opts.variant ? old.manifest.variants?.[this.opts.variant] : undefined) ?? old.manifest.model;
      const bytes = await readModelFile(this.opts.bucket, old.name, old.version, file);
      const session = await this.opts.createSession(bytes, old.manifest);
      if (slot.current) await session.release(); // a newer load got there first
      else slot.current = { ...old, session, loadedAt: new Date(this.now()).toISOString() };
    } catch (e) {
      console.error(`reloading ${old.name}/${old.version} after a failed swap failed: ${(e as Error).message}`);
    }
  }
}
