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

/**
 * Any thrown value as one line: its message (or its name), whitespace runs collapsed, at most 500
 * characters. What bopt stores as a task's error and shows in notes and logs.
 */
export function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message || e.name : String(e);
  return message.replace(/\s+/g, ' ').trim().slice(0, 500);
}
