// The model registry's swap logic, against a real R2 bucket (Miniflare's, from Node) with a counting
// session factory in place of ORT: poll interval, release after the last in-flight request, a stale
// load overtaken by a newer publish, and failed versions not retried until the pointer is rewritten.
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointerKey, type ModelManifest } from "@resnet-edge/shared";
import { ModelRegistry, type HotSwap, type ModelSession } from "../../edge/src/models/registry.ts";
import type { ModelBucket } from "../../edge/src/models/store.ts";
import { tinyModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";
import { activate, publish, uploadVersion, type WritableBucket } from "./helpers/publish.ts";

let mf: Miniflare;
let bucket: ModelBucket & WritableBucket;

beforeAll(async () => {
  mf = new Miniflare({ modules: true, script: "export default { fetch() { return new Response('') } }", r2Buckets: ["MODELS"] });
  bucket = (await mf.getR2Bucket("MODELS")) as unknown as ModelBucket & WritableBucket;
});
afterAll(() => mf?.dispose());

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Sessions that record their version; creation can be held back per version. */
class Sessions {
  created: string[] = [];
  released: string[] = [];
  /** create:<version> and release:<version>, in order. */
  log: string[] = [];
  /** Versions whose session creation fails, as ORT refusing the bytes would. */
  refuse = new Set<string>();
  hold = new Map<string, Promise<void>>();
  private waiting = new Map<string, () => void>();
  /** Resolves once the registry has asked for `version`'s session (at once if it already has). */
  creating(version: string): Promise<void> {
    if (this.created.includes(version)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(version, resolve));
  }
  factory = async (_onnx: Uint8Array, manifest: ModelManifest): Promise<ModelSession> => {
    this.created.push(manifest.version);
    this.log.push(`create:${manifest.version}`);
    this.waiting.get(manifest.version)?.();
    await this.hold.get(manifest.version);
    if (this.refuse.has(manifest.version)) throw new Error("not an ONNX model");
    return {
      run: async () => ({ data: new Float32Array(10), dims: [1, 10] }),
      release: async () => {
        this.released.push(manifest.version);
        this.log.push(`release:${manifest.version}`);
      },
    };
  };
}

function setup(name: string, pollSeconds: number, maxSessions?: number, hotSwap?: HotSwap) {
  const sessions = new Sessions();
  let clock = 1_000_000;
  const background: Promise<unknown>[] = [];
  const registry = new ModelRegistry({ bucket, createSession: sessions.factory, pollSeconds, now: () => clock, ...(maxSessions ? { maxSessions } : {}), ...(hotSwap ? { hotSwap } : {}) });
  const version = (m = name) => registry.use(m, async (x) => x.version, (p) => background.push(p));
  const settle = async () => {
    while (background.length) await background.shift();
  };
  return { sessions, registry, version, settle, tick: (s: number) => (clock += s * 1000) };
}

const artifact = (name: string, v: string, seed: number) => tinyModelArtifact({ name, version: v, seed });

describe("ModelRegistry", () => {
  it("reads the pointer at most every pollSeconds", async () => {
    const { version, settle, tick, sessions } = setup("poll", 10);
    await publish(bucket, artifact("poll", "v1", 1));
    expect(await version()).toBe("v1");
    await publish(bucket, artifact("poll", "v2", 2));
    tick(9);
    expect(await version()).toBe("v1"); // inside the window: the pointer is not even read
    await settle();
    expect(sessions.created).toEqual(["v1"]);
    tick(2);
    expect(await version()).toBe("v1"); // v2 starts loading; v1 answers meanwhile
    await settle();
    expect(await version()).toBe("v2");
    expect(sessions.released).toEqual(["v1"]);
  });

  it("releases the old session only after its last in-flight request", async () => {
    const { registry, version, settle, sessions } = setup("inflight", 0);
    await publish(bucket, artifact("inflight", "v1", 1));
    expect(await version()).toBe("v1");
    const gate = deferred();
    const entered = deferred();
    const slow = registry.use("inflight", async (m) => {
      entered.resolve();
      await gate.promise;
      return m.version;
    });
    await entered.promise; // the request holds v1
    await publish(bucket, artifact("inflight", "v2", 2));
    expect(await version()).toBe("v1");
    await settle();
    expect(await version()).toBe("v2");
    expect(sessions.released).toEqual([]); // v1 still has a request running
    gate.resolve();
    expect(await slow).toBe("v1");
    expect(sessions.released).toEqual(["v1"]);
  });

  it("a load overtaken by a newer publish is dropped, not swapped in", async () => {
    const { version, settle, sessions } = setup("race", 0);
    await publish(bucket, artifact("race", "v1", 1));
    expect(await version()).toBe("v1");
    const holdV2 = deferred();
    sessions.hold.set("v2", holdV2.promise);
    await publish(bucket, artifact("race", "v2", 2));
    expect(await version()).toBe("v1"); // v2 loading, held
    await publish(bucket, artifact("race", "v3", 3));
    expect(await version()).toBe("v1"); // v3 loading too
    holdV2.resolve();
    await settle();
    expect(await version()).toBe("v3");
    expect(sessions.created).toEqual(["v1", "v2", "v3"]);
    expect(sessions.released.sort()).toEqual(["v1", "v2"]);
  });

  it("a first load superseded by a newer publish hands its waiting requests the newer version", async () => {
    const { registry, version, settle, sessions } = setup("first", 0);
    const holdV1 = deferred();
    sessions.hold.set("v1", holdV1.promise);
    await publish(bucket, artifact("first", "v1", 1));
    const early = registry.use("first", async (m) => m.version);
    await sessions.creating("v1"); // early is now waiting on v1's session
    await publish(bucket, artifact("first", "v2", 2));
    const holdV2 = deferred();
    sessions.hold.set("v2", holdV2.promise);
    const late = version();
    // Only once `late` has read the new pointer and started loading v2 is v1's load "superseded";
    // wait for that rather than for a fixed time (the R2 read can be slow on a busy machine).
    await sessions.creating("v2");
    expect(sessions.created).toEqual(["v1", "v2"]);
    holdV1.resolve();
    holdV2.resolve();
    expect(await early).toBe("v2");
    expect(await late).toBe("v2");
    await settle();
    expect(sessions.released).toEqual(["v1"]);
  });

  it("does not retry a failed version until the pointer is written again", async () => {
    const { version, settle, sessions, registry } = setup("retry", 0);
    await publish(bucket, artifact("retry", "v1", 1));
    expect(await version()).toBe("v1");
    const v2 = artifact("retry", "v2", 2);
    await uploadVersion(bucket, v2, { onnx: v2.onnx.slice(1) });
    await activate(bucket, "retry", "v2");
    for (let i = 0; i < 3; i++) {
      expect(await version()).toBe("v1");
      await settle();
    }
    expect(registry.status("retry").lastError).toMatchObject({ version: "v2", code: "checksum_mismatch" });
    await uploadVersion(bucket, v2);
    expect(await version()).toBe("v1"); // same pointer object: still not retried
    await settle();
    // Re-publish: a new pointer object. R2's `uploaded` has ms resolution, so write it again until its
    // time differs from the first one's (the registry tells pointer objects apart by it).
    const first = (await bucket.get(pointerKey("retry")))!.uploaded.getTime();
    do await activate(bucket, "retry", "v2");
    while ((await bucket.get(pointerKey("retry")))!.uploaded.getTime() === first);
    expect(await version()).toBe("v1");
    await settle();
    expect(await version()).toBe("v2");
    expect(sessions.created).toEqual(["v1", "v2"]); // the corrupt bytes never reached the session factory
    expect(registry.status("retry").lastError).toBeNull();
  });

  it("clears lastError when the pointer goes back to the version already serving", async () => {
    const { version, settle, registry } = setup("back", 0);
    await publish(bucket, artifact("back", "v1", 1));
    expect(await version()).toBe("v1");
    const v2 = artifact("back", "v2", 2);
    await uploadVersion(bucket, v2, { onnx: v2.onnx.slice(1) });
    await activate(bucket, "back", "v2");
    expect(await version()).toBe("v1");
    await settle();
    expect(registry.status("back").lastError).toMatchObject({ version: "v2", code: "checksum_mismatch" });
    await activate(bucket, "back", "v1"); // the operator points back at what serves
    expect(await version()).toBe("v1");
    expect(registry.status("back").lastError).toBeNull();
  });

  it("a load the pointer moved away from (back to the serving version) is dropped, not swapped in", async () => {
    const { version, settle, sessions } = setup("undo", 0);
    await publish(bucket, artifact("undo", "v1", 1));
    expect(await version()).toBe("v1");
    const holdV2 = deferred();
    sessions.hold.set("v2", holdV2.promise);
    await publish(bucket, artifact("undo", "v2", 2));
    expect(await version()).toBe("v1"); // v2 loading, held
    await activate(bucket, "undo", "v1");
    expect(await version()).toBe("v1");
    holdV2.resolve();
    await settle();
    expect(await version()).toBe("v1");
    expect(sessions.released).toEqual(["v2"]);
  });

  it("keeps at most maxSessions models loaded: the least recently used idle one is released first, a busy one after its request", async () => {
    const { registry, sessions } = setup("lru-a", 0, 2);
    const names = ["lru-a", "lru-b", "lru-c"];
    for (const [i, n] of names.entries()) await publish(bucket, artifact(n, `v${i + 1}`, i + 1));
    const use = (n: string) => registry.use(n, async (m) => m.version);
    expect(await use("lru-a")).toBe("v1");
    expect(await use("lru-b")).toBe("v2");
    expect(await use("lru-a")).toBe("v1"); // b is now the least recently used
    expect(await use("lru-c")).toBe("v3");
    expect(sessions.released).toEqual(["v2"]);
    expect(registry.liveSessions()).toBe(2);
    expect(registry.status("lru-b").serving).toBeNull();
    // a (LRU now) has a request running when b comes back: a is retired but released only after it.
    const gate = deferred();
    const started = deferred();
    const busy = registry.use("lru-a", async (m) => {
      started.resolve();
      await gate.promise;
      return m.version;
    });
    // Every use reads the pointer from R2 first (pollSeconds 0): wait until a's request is running,
    // or c's pointer read may finish first and leave c, not a, the least recently used.
    await started.promise;
    expect(await use("lru-c")).toBe("v3"); // a is the least recently used again, and still busy
    expect(await use("lru-b")).toBe("v2"); // reloads b; retires a
    expect(sessions.released).toEqual(["v2"]);
    gate.resolve();
    expect(await busy).toBe("v1");
    expect(sessions.released).toEqual(["v2", "v1"]);
    expect(registry.liveSessions()).toBe(2);
    expect(sessions.created).toEqual(["v1", "v2", "v3", "v2"]);
  });
  describe('hotSwap "drain" (the worker\'s default: one ORT session at a time)', () => {
    it("releases the old session, after its in-flight request, before creating the new one; requests meanwhile wait for the new version", async () => {
      const { registry, version, settle, sessions } = setup("drain", 0, undefined, "drain");
      await publish(bucket, artifact("drain", "v1", 1));
      expect(await version()).toBe("v1");
      const gate = deferred();
      const entered = deferred();
      const slow = registry.use("drain", async (m) => {
        entered.resolve();
        await gate.promise;
        return m.version;
      });
      await entered.promise; // a request holds v1
      await publish(bucket, artifact("drain", "v2", 2));
      expect(await version()).toBe("v1"); // starts v2's load: its files are read and checked while v1 serves
      for (let i = 0; i < 200 && registry.status("drain").serving; i++) await new Promise((r) => setTimeout(r, 5));
      expect(registry.status("drain")).toMatchObject({ serving: null, loading: "v2" }); // v1 drained
      const waiting = version();
      await new Promise((r) => setTimeout(r, 20));
      expect(sessions.log).toEqual(["create:v1"]); // v2 waits for v1's request, and v1's release
      gate.resolve();
      expect(await slow).toBe("v1");
      expect(await waiting).toBe("v2");
      await settle();
      expect(sessions.log).toEqual(["create:v1", "release:v1", "create:v2"]);
    });

    it("when ORT refuses the new version, the drained one is loaded again and serves; lastError says why", async () => {
      const { registry, version, settle, sessions } = setup("drain-bad", 0, undefined, "drain");
      await publish(bucket, artifact("drain-bad", "v1", 1));
      expect(await version()).toBe("v1");
      sessions.refuse.add("v2");
      await publish(bucket, artifact("drain-bad", "v2", 2));
      expect(await version()).toBe("v1");
      await settle();
      expect(await version()).toBe("v1");
      expect(sessions.log).toEqual(["create:v1", "release:v1", "create:v2", "create:v1"]);
      expect(registry.status("drain-bad").lastError).toMatchObject({ version: "v2", code: "session_failed" });
    });

    it("a corrupt file (sha256 mismatch) is refused before the serving session is touched", async () => {
      const { registry, version, settle, sessions } = setup("drain-sha", 0, undefined, "drain");
      await publish(bucket, artifact("drain-sha", "v1", 1));
      expect(await version()).toBe("v1");
      const v2 = artifact("drain-sha", "v2", 2);
      await uploadVersion(bucket, v2, { onnx: v2.onnx.slice(1) });
      await activate(bucket, "drain-sha", "v2");
      expect(await version()).toBe("v1");
      await settle();
      expect(await version()).toBe("v1");
      expect(sessions.log).toEqual(["create:v1"]);
      expect(registry.status("drain-sha").lastError).toMatchObject({ version: "v2", code: "checksum_mismatch" });
    });
  });
});
