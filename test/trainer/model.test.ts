import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { ARCH_NAMES, archSpec, createModel, layerVariables, makeLayer, resnetStem, walkLayers } from "../../trainer/src/model/index.ts";
import { ParamRegistry } from "../../trainer/src/model/param-registry.ts";
import type { LayerNode, Model } from "../../trainer/src/model/index.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

// ---- closed-form parameter counts, written from the book's definitions, independent of the builder
const conv = (ni: number, nf: number, ks: number) => ks * ks * ni * nf + 2 * nf; // conv (no bias) + BN gamma/beta
const linear = (ni: number, no: number) => ni * no + no;
const basic = (ni: number, nf: number) => conv(ni, nf, 3) + conv(nf, nf, 3) + (ni === nf ? 0 : conv(ni, nf, 1));
const bottleneck = (ni: number, nf: number) =>
  conv(ni, nf / 4, 1) + conv(nf / 4, nf / 4, 3) + conv(nf / 4, nf, 1) + (ni === nf ? 0 : conv(ni, nf, 1));
const plainChannels = [3, 16, 32, 64, 128, 256];

function expectedCount(name: string, nOut: number): number {
  const pairs = plainChannels.slice(1).map((nf, i) => [plainChannels[i]!, nf] as const);
  switch (name) {
    case "fcn":
      return pairs.reduce((s, [ni, nf]) => s + conv(ni, nf, 3), 0) + linear(256, nOut);
    case "resblock":
      return pairs.reduce((s, [ni, nf]) => s + basic(ni, nf), 0) + linear(256, nOut);
    case "resblock2":
      return pairs.reduce((s, [ni, nf]) => s + basic(ni, nf) + basic(nf, nf), 0) + linear(256, nOut);
    default: {
      const layers = { resnet18: [2, 2, 2, 2], resnet34: [3, 4, 6, 3], resnet50: [3, 4, 6, 3] }[name]!;
      const e = name === "resnet50" ? 4 : 1;
      const block = e === 1 ? basic : bottleneck;
      const szs = [64, 64 * e, 128 * e, 256 * e, 512 * e];
      let total = conv(3, 32, 3) + conv(32, 32, 3) + conv(32, 64, 3);
      layers.forEach((n, i) => {
        for (let j = 0; j < n; j++) total += block(j === 0 ? szs[i]! : szs[i + 1]!, szs[i + 1]!);
      });
      return total + linear(512 * e, nOut);
    }
  }
}

const countParams = (m: Model) => m.parameters().reduce((s, p) => s + p.variable.size, 0);

describe("architectures", () => {
  for (const name of ARCH_NAMES) {
    it(`${name}: closed-form parameter count, tree covers every variable once, logits [N, nOut] at 64x64, 97x203, 128x128`, () => {
      const m = createModel(archSpec(name, { nOut: 7 }));
      expect(countParams(m)).toBe(expectedCount(name, 7));

      const inTree = [...walkLayers(m.root)].flatMap(layerVariables);
      const declared = [...m.parameters().map((p) => p.variable), ...m.buffers().map((b) => b.variable)];
      expect(new Set(inTree).size, "duplicates in the tree").toBe(inTree.length);
      expect(inTree.length).toBe(declared.length);
      expect(new Set(inTree)).toEqual(new Set(declared));

      for (const [h, w] of [[64, 64], [97, 203], [128, 128]] as const) {
        const y = tf.tidy(() => m.forward(tf.randomNormal([1, h, w, 3]) as tf.Tensor4D, { training: false }));
        expect(y.shape, `${h}x${w}`).toEqual([1, 7]);
        expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
        y.dispose();
      }
      m.dispose();
    });
  }

  it("resnet18 with 1000 classes has the book/xresnet18 count (11,708,744)", () => {
    const m = createModel(archSpec("resnet18", { nOut: 1000 }));
    expect(countParams(m)).toBe(11_708_744);
    m.dispose();
  });
});

describe("layer tree", () => {
  it("names are unique dotted paths; only the linear head is in group 'head'", () => {
    const m = createModel(archSpec("resnet18", { nOut: 10 }));
    const names = [...m.parameters(), ...m.buffers()].map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("body.2.0.convs.1.conv.weight");
    expect(m.parameters().filter((p) => p.group === "head").map((p) => p.name)).toEqual(["head.linear.weight", "head.linear.bias"]);
    m.dispose();
  });

  it("BatchZero: the last BN of every residual branch starts at gamma 0, all others at 1", () => {
    for (const name of ["resblock", "resnet18", "resnet50"]) {
      const m = createModel(archSpec(name, { nOut: 10 }));
      const zeroed = new Set<LayerNode>();
      let residuals = 0;
      for (const node of walkLayers(m.root)) {
        if (node.kind !== "residual") continue;
        residuals++;
        const bns = [...walkLayers(node.convpath)].filter((n) => n.kind === "batchnorm");
        zeroed.add(bns[bns.length - 1]!);
      }
      expect(residuals).toBeGreaterThan(0);
      for (const node of walkLayers(m.root)) {
        if (node.kind !== "batchnorm") continue;
        const gamma = Array.from(node.gamma.dataSync());
        expect(gamma.every((g) => g === (zeroed.has(node) ? 0 : 1)), node.name).toBe(true);
      }
      m.dispose();
    }
  });

  it("same seed gives the same weights; another seed does not", () => {
    const [a, b, c] = [1, 1, 2].map((seed) => createModel(archSpec("fcn", { nOut: 10 }), { seed }));
    const w = (m: Model) => m.parameters()[0]!.variable.dataSync();
    expect(Array.from(w(a!))).toEqual(Array.from(w(b!)));
    expect(Array.from(w(a!))).not.toEqual(Array.from(w(c!)));
    // Kaiming normal: std of the first conv (fan_in 27) is sqrt(2/27) ~ 0.27
    const values = Array.from(w(a!));
    const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
    expect(std).toBeGreaterThan(0.2);
    expect(std).toBeLessThan(0.35);
    for (const m of [a, b, c]) m!.dispose();
  });

  it("the book's _resnet_stem and _make_layer: resnetStem(3, 32, 32, 64) and makeLayer(1, 2) of resnet18", () => {
    const reg = new ParamRegistry(1);
    const stem = resnetStem(reg, [3, 32, 32, 64]);
    expect(stem.map((n) => n.kind)).toEqual(["sequential", "sequential", "sequential", "maxpool"]);
    const convs = stem.slice(0, 3).map((n) => [...walkLayers(n)].find((l) => l.kind === "conv"));
    expect(convs.map((c) => (c?.kind === "conv" ? [c.weight.shape[2], c.weight.shape[3], c.stride] : null))).toEqual([[3, 32, 2], [32, 32, 1], [32, 64, 1]]);
    expect(resnetStem(reg, [3])).toEqual([]);
    const layer = makeLayer(reg, 1, { nLayers: 2, inChannels: 64, outChannels: 128, stride: 2, def: { block: "res", expansion: 1 } });
    expect(layer.kind === "sequential" && layer.children.map((b) => b.name)).toEqual(["body.1.0", "body.1.1"]);
    // First block 64 -> 128 at stride 2 (so it has a 1x1 projection on its identity path), the second 128 -> 128 at stride 1.
    const firstConvs = (b: LayerNode) => [...walkLayers(b)].filter((l) => l.kind === "conv").map((l) => (l.kind === "conv" ? [l.weight.shape[2], l.weight.shape[3], l.stride] : null));
    if (layer.kind !== "sequential") throw new Error("makeLayer returns a sequential");
    expect(firstConvs(layer.children[0]!)[0]).toEqual([64, 128, 2]);
    expect(firstConvs(layer.children[1]!)[0]).toEqual([128, 128, 1]);
    expect(firstConvs(layer.children[0]!).some((c) => c?.[0] === 64 && c[1] === 128 && c[2] === 1)).toBe(true); // the projection
    for (const p of reg.params) p.variable.dispose();
    for (const b of reg.buffers) b.variable.dispose();
  });
});
