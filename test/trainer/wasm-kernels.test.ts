import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// The committed kernel modules (trainer/wasm/build.sh, from kernels.c) are the ones recorded, and
// import tfjs's memory instead of bringing their own.
const dir = new URL("../../trainer/wasm/", import.meta.url);

describe("trainer/wasm kernel modules", () => {
  const sums = new Map(readFileSync(new URL("kernels.wasm.sha256", dir), "utf8").trim().split("\n").map((l) => {
    const [sum, file] = l.split(/\s+/);
    return [file!, sum!];
  }));

  for (const file of ["kernels.wasm", "kernels-shared.wasm"]) {
    it(`${file} matches its recorded sha256 and imports only env.memory`, () => {
      const bytes = readFileSync(new URL(file, dir));
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(sums.get(file));
      const mod = new WebAssembly.Module(bytes);
      expect(WebAssembly.Module.imports(mod)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
      expect(WebAssembly.Module.exports(mod).map((e) => e.name)).toContain("conv2d_filter_grad");
      // The shared variant only instantiates on a shared memory, the plain one only on a plain one.
      const shared = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
      const plain = new WebAssembly.Memory({ initial: 1 });
      const ok = file === "kernels-shared.wasm" ? shared : plain;
      const wrong = file === "kernels-shared.wasm" ? plain : shared;
      expect(() => new WebAssembly.Instance(mod, { env: { memory: ok } })).not.toThrow();
      expect(() => new WebAssembly.Instance(mod, { env: { memory: wrong } })).toThrow();
    });
  }
});
