import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { relaxedSimdAvailable } from "../../trainer/src/backend/simd-kernels.ts";

// The committed kernel modules (trainer/wasm/build.sh, from kernels.c) are the ones recorded, and
// import tfjs's memory instead of bringing their own.
const dir = new URL("../../trainer/wasm/", import.meta.url);

describe("trainer/wasm kernel modules", () => {
  const sums = new Map(readFileSync(new URL("kernels.wasm.sha256", dir), "utf8").trim().split("\n").map((l) => {
    const [sum, file] = l.split(/\s+/);
    return [file!, sum!];
  }));

  for (const file of ["kernels.wasm", "kernels-shared.wasm", "kernels-relaxed.wasm", "kernels-shared-relaxed.wasm"]) {
    it(`${file} matches its recorded sha256 and imports only env.memory`, () => {
      const bytes = readFileSync(new URL(file, dir));
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(sums.get(file));
      // The relaxed builds hold f32x4.relaxed_madd: they compile only once the engine has relaxed SIMD on.
      const relaxed = file.includes("relaxed");
      if (relaxed) expect(relaxedSimdAvailable()).toBe(true);
      const mod = new WebAssembly.Module(bytes);
      expect(WebAssembly.Module.imports(mod)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
      expect(WebAssembly.Module.exports(mod).map((e) => e.name)).toContain("conv2d_filter_grad");
      // The shared variant only instantiates on a shared memory, the plain one only on a plain one.
      const shared = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
      const plain = new WebAssembly.Memory({ initial: 1 });
      const ok = file.includes("shared") ? shared : plain;
      const wrong = file.includes("shared") ? plain : shared;
      expect(() => new WebAssembly.Instance(mod, { env: { memory: ok } })).not.toThrow();
      expect(() => new WebAssembly.Instance(mod, { env: { memory: wrong } })).toThrow();
      // 70 fused multiply-adds (the convolutions' tiles, Winograd's products) in the relaxed builds, none in the others: the
      // standard opcode 0xfd 0x85 0x02, which build.sh's rewrite of clang 14's prototype one produced.
      let madds = 0;
      for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xfd && bytes[i + 1] === 0x85 && bytes[i + 2] === 0x02) madds++;
      expect(madds).toBe(relaxed ? 70 : 0);
    });
  }
});
