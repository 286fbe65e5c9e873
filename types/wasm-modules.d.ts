// wrangler/workerd turn `import m from "x.wasm"` into a compiled module.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
