import { pino, type Logger } from "pino";

/** JSON logs on stdout. Call lines never carry tokens, notes or other free text. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "capacity", pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
