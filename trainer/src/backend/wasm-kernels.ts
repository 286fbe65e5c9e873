/** Extra wasm kernels: filled in next (Conv2DBackpropFilter, faster Conv2DBackpropInput). */
let registered = false;
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
}
