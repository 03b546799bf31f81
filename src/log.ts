import { pino, type Logger } from "pino";

/**
 * JSON logs on stdout. Call lines never carry tokens, notes or other free
 * text. Writes are buffered (4 KiB, written asynchronously, and at least once
 * a second): a synchronous write per call line cost about a tenth of a Get's
 * CPU. Lifecycle lines are flushed at once; flushLog() before exiting.
 */
export function createLogger(level: string): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), 1000).unref();
  return pino({ level, base: { service: "capacity", pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** Writes out whatever the logger still buffers. */
export function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
