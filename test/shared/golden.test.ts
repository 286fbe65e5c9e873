// Golden tensors for three real Imagenette JPEGs under two recipes. The expected values were computed
// independently of shared/ by test/shared/fixtures/golden-reference.py (Pillow 9.4 decode + Image.BILINEAR
// resize + crop, plain-Python normalisation rounded to float32):
//     /usr/bin/python3 test/shared/fixtures/golden-reference.py ../shared/data
// so a match means our decoder, resize, crop and normalisation reproduce Pillow bit for bit.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PREPROCESS, preprocess, type PreprocessConfig } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { DATA_DIR, hasImagenette, needs } from "../helpers/data.ts";

const CONFIGS: Record<string, PreprocessConfig> = {
  default: DEFAULT_PREPROCESS, // shortest edge 224: the squashed 224x224 files pass through unresized
  "short160-crop128": { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 160 }, crop: [128, 128] },
};

interface Golden {
  sha256: string;
  sum: number;
  entries: Record<number, number>;
}

const GOLDEN: Record<string, Record<string, Golden>> = {
  default: {
    "imagenette/val/n01440764/ILSVRC2012_val_00009111.JPEG": {
      sha256: "b98d1c161db8f4b0b4535f8b0c212b71faea8a74724e8ddc1a05c311ab51df1e",
      sum: 5097.436584817711,
      entries: { 0: 0.12543882429599762, 1: 0.09118931740522385, 777: 2.0605359077453613, 12345: 0.056939806789159775, 40000: -1.6384108066558838 },
    },
    "imagenette/val/n03028079/ILSVRC2012_val_00003351.JPEG": {
      sha256: "78e0aeca87a5bf403a31af2690632087e571822fb1dc89b9761ef0f06aa298ae",
      sum: -52764.31533079082,
      entries: { 0: -1.6555355787277222, 1: -1.6555355787277222, 777: -0.9705454111099243, 12345: -0.9705454111099243, 40000: -0.3883037865161896 },
    },
    "imagenette/val/n03888257/ILSVRC2012_val_00001440.JPEG": {
      sha256: "8f420143c98b1e7a6949f0907ed8bddc45235a634648f7c5db06497c7b629dd4",
      sum: 137231.8675633357,
      entries: { 0: -0.4739275574684143, 1: -0.4739275574684143, 777: -0.0971829816699028, 12345: 0.056939806789159775, 40000: 0.22818733751773834 },
    },
  },
  "short160-crop128": {
    "imagenette/val/n01440764/ILSVRC2012_val_00009111.JPEG": {
      sha256: "24602ca8a8f0a236252bb76df1b1b933622fef709efcc0357abfa571f69653b2",
      sum: -4264.330341139343,
      entries: { 0: -0.4568028151988983, 1: -0.01155920885503292, 777: -1.4329137802124023, 12345: 0.03981505334377289, 40000: -0.8284096121788025 },
    },
    "imagenette/val/n03028079/ILSVRC2012_val_00003351.JPEG": {
      sha256: "f513ae3ebf57318dc952a33a0111aeccbec97a8aa81ada5f0e95331e8d656a24",
      sum: -6412.829165798612,
      entries: { 0: -1.3986642360687256, 1: -1.3815394639968872, 777: -1.1246682405471802, 12345: 0.24531209468841553, 40000: 0.5833551287651062 },
    },
    "imagenette/val/n03888257/ILSVRC2012_val_00001440.JPEG": {
      sha256: "de3120ee787b16eac632274f933d0d29fcdf7d05c8b5633e26499fa41926b743",
      sum: 46352.24480056157,
      entries: { 0: -0.26843053102493286, 1: -0.2513057589530945, 777: -0.16568198800086975, 12345: 0.24531209468841553, 40000: 0.33934640884399414 },
    },
  },
};

describe.skipIf(!hasImagenette)(`golden tensors for real Imagenette JPEGs ${hasImagenette ? "" : needs("imagenette")}`, () => {
  beforeAll(() => initCodecs());

  for (const [configName, goldens] of Object.entries(GOLDEN)) {
    for (const [rel, golden] of Object.entries(goldens)) {
      it(`${configName}: ${rel.split("/").pop()}`, async () => {
        const bytes = new Uint8Array(readFileSync(join(DATA_DIR, rel)));
        const out = await preprocess(bytes, CONFIGS[configName]!);
        const side = configName === "default" ? 224 : 128;
        expect(out.dims).toEqual([1, 3, side, side]);
        expect(out.source).toEqual({ format: "jpeg", width: 224, height: 224, scale: 1 });
        for (const [i, v] of Object.entries(golden.entries)) expect(out.data[Number(i)], `entry ${i}`).toBe(v);
        let sum = 0;
        for (const v of out.data) sum += v;
        expect(sum).toBeCloseTo(golden.sum, 2);
        const bytesOut = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
        expect(createHash("sha256").update(bytesOut).digest("hex")).toBe(golden.sha256);
      });
    }
  }
});
