import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorker, type WorkerHandle } from "./workerd.ts";

describe("workerd harness", () => {
  let w: WorkerHandle;
  beforeAll(async () => {
    w = await startWorker({ entry: "test/helpers/smoke/wasm-worker.ts" });
  });
  afterAll(() => w?.dispose());

  it("hands .wasm imports to the worker as compiled WebAssembly.Module", async () => {
    const res = await w.fetch("/");
    expect(await res.text()).toBe("true");
  });
});
