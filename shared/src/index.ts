export * from "./errors.ts";
export * from "./config.ts";
export * from "./manifest.ts";
export * from "./vocab.ts";
