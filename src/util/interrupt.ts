/**
 * Ctrl-C and `kill`: while a long stage runs, SIGINT and SIGTERM become an
 * InterruptedError handed to the stage's stop function (the pipeline passes
 * the coordinator's abort), so the stage winds down through its ordinary error
 * path, with exit code 130 or 143 and its resumable state intact.
 */
import { ExitCode, VirnucproError } from './errors.js';

/** The run was stopped by a signal; the exit code says which. */
export class InterruptedError extends VirnucproError {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`stopped by ${signal}`, { exitCode: signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm, hint: 'the run can be resumed' });
  }
}

/** Hands SIGINT/SIGTERM to `stop` as an InterruptedError until the returned function is called. */
export function onInterrupt(stop: (error: InterruptedError) => void): () => void {
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
    const handler = (): void => stop(new InterruptedError(signal));
    process.on(signal, handler);
    return () => void process.off(signal, handler);
  });
  return () => handlers.forEach((off) => off());
}
