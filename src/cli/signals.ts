/**
 * Ctrl-C and SIGTERM for the long commands (run, resume, worker, watch): the first signal asks the
 * command to stop gracefully, a second one exits at once with 130 after one line on stderr saying
 * what is left behind. Returns the function that removes the handlers.
 */
export function onStopSignals(stop: () => void, forcedExitMessage: string): () => void {
  let signals = 0;
  const handler = (): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`${forcedExitMessage}\n`);
      process.exit(130);
    }
    stop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
