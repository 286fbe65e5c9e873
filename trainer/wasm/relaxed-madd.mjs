// Rewrites clang 14's prototype f32x4.fma (0xfd 0xaf 0x01) to the standard f32x4.relaxed_madd
// (0xfd 0x85 0x02, same length) in a linked kernels module: node relaxed-madd.mjs <in.wasm> <out.wasm> <count>.
// <count> is how many fma instructions clang emitted (from its assembly output); the byte pattern must
// occur exactly that often, so no immediate or other byte run that merely looks like one is touched.
// kernels.c passes the accumulator last, which is relaxed_madd's addend (op1 * op2 + op3).
import { readFileSync, writeFileSync } from "node:fs";

const [input, output, countArg] = process.argv.slice(2);
const expected = Number(countArg);
if (!input || !output || !Number.isInteger(expected) || expected < 1) {
  console.error("usage: node relaxed-madd.mjs <in.wasm> <out.wasm> <fma count>");
  process.exit(2);
}
const bytes = new Uint8Array(readFileSync(input));
const at = [];
for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xfd && bytes[i + 1] === 0xaf && bytes[i + 2] === 0x01) at.push(i);
if (at.length !== expected) {
  console.error(`${input}: found the fma byte pattern ${at.length} times, clang emitted ${expected} fma instructions; not patching`);
  process.exit(1);
}
for (const i of at) {
  bytes[i + 1] = 0x85;
  bytes[i + 2] = 0x02;
}
writeFileSync(output, bytes);
console.log(`${output}: ${at.length} f32x4.relaxed_madd`);
