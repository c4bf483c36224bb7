/**
 * An expected failure caused by the user's input or environment (bad sweep file, unknown parameter,
 * bad SQL, missing database, a refused lease). The CLI prints its message as one line and exits with
 * `exitCode`; anything else is a bug and is printed with its stack.
 */
export class BoptError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 2,
  ) {
    super(message);
    this.name = 'BoptError';
  }
}
