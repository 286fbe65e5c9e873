/**
 * A problem with files the user pointed us at: a dataset folder, a download, a checkpoint. The message
 * says what happened, the detail, and what to do; the CLI prints it on one line and exits 1.
 */
export class DataError extends Error {
  override readonly name = "DataError";
  constructor(
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
