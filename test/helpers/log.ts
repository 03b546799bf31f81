import { Writable } from "node:stream";
import { pino } from "pino";

/** A logger whose JSON lines a test can read back. */
export function capturedLog(level = "info"): { log: pino.Logger; text: () => string; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const text = (): string => chunks.join("");
  return {
    log: pino({ level }, sink),
    text,
    lines: () =>
      text()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
