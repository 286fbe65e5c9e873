import jpegWasm from "../../../shared/wasm/jpeg/libjpeg-turbo.wasm";
export default { async fetch() { return new Response(String(jpegWasm instanceof WebAssembly.Module)); } };
