/**
 * The engine of the listener fuzzing: cases sent in batches with bounded
 * parallelism, each outcome counted, and after every batch the check that
 * the server still serves and logged no unhandled error. A batch that
 * brings trouble is bisected (with restarts) down to the one case that does
 * it alone, once per kind of fault.
 */
import { Figures } from "./figures.js";
import { http1Status, http2FrameTypes, rawExchange, type RawOutcome, type RawTarget } from "../helpers/raw-socket.js";
import type { RawCase } from "./listener-cases.js";
import { servingProblem, type FuzzedServer } from "./listener-servers.js";

export const figures = new Figures("listener-fuzz");
export const CASE_MS = Number(process.env.LISTENER_FUZZ_CASE_MS ?? 1000);
const PARALLEL = 32;
const BATCH = 100;
/** Bisecting a crashed batch costs a restart per step: once per kind of fault, and a few in all. */
const MAX_BISECTS = Number(process.env.LISTENER_FUZZ_BISECTS ?? 4);

export interface Finding {
  target: string;
  problem: string;
  /** The error and first stack frame the dying process printed. */
  signature: string;
  culprit: string;
}

export const findings: Finding[] = [];
const bisected = new Set<string>();
let outsideRestarts = 0;

/** A case as a reproduction: its category and its bytes, JSON-escaped and shortened. */
export function describeCase(c: RawCase): string {
  const shown = c.chunks.map((b) => JSON.stringify(b.subarray(0, 1500).toString("latin1")) + (b.length > 1500 ? `…(${b.length} bytes)` : ""));
  return `[${c.category}] ${shown.join(" + ")}${c.halfClose ? " then FIN" : ""}`;
}

/** The outcome in a word, for the figures table. */
function classify(outcome: RawOutcome): string {
  const status = http1Status(outcome.received);
  if (status !== undefined) return status >= 500 ? `answered ${status}` : `answered ${Math.floor(status / 100)}xx`;
  const types = http2FrameTypes(outcome.received);
  if (types[0] === 0x4) {
    if (types.includes(0x1)) return "answered over HTTP/2";
    if (types.includes(0x7)) return "GOAWAY";
    if (types.includes(0x3)) return "stream reset";
    return "HTTP/2 SETTINGS, then nothing";
  }
  if (outcome.received[0] === 0x15) return "TLS alert";
  if (outcome.received.length > 0) return "other bytes";
  if (outcome.end === "refused") return "refused (nobody listening)";
  return outcome.end === "closed" ? "closed without answer" : "no answer within the case time";
}

async function runCases(target: RawTarget, cases: RawCase[]): Promise<RawOutcome[]> {
  const outcomes = new Array<RawOutcome>(cases.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      outcomes[i] = await rawExchange(target, cases[i]!, CASE_MS);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, cases.length) }, worker));
  return outcomes;
}

/** What a failing process reported: the error and its first stack frame, from its log or its stderr. */
function faultSignature(server: FuzzedServer): string {
  const fault = server.faults().at(-1)?.fault as { name?: string; message?: string; stack?: string } | undefined;
  const text = fault ? `${fault.name}: ${fault.message}\n${fault.stack ?? ""}` : server.process.stderr();
  const lines = text.split("\n");
  const error = lines.findIndex((l) => /^[A-Za-z]*Error\b/.test(l));
  if (error < 0) return server.alive() ? "still running, not serving" : "nothing on stderr or in the log";
  const frame = lines.slice(error).find((l) => /^\s+at /.test(l)) ?? "";
  return `${lines[error]!.trim()} ${frame.trim()}`;
}

/** What is wrong after some cases: not serving, or an unhandled error logged since `faultsBefore`. */
export async function trouble(server: FuzzedServer, token: string, faultsBefore: number): Promise<string | undefined> {
  const problem = await servingProblem(server, token);
  if (problem !== undefined) return problem;
  const faults = server.faults();
  return faults.length > faultsBefore ? `${server.name} serves, but logged "${String(faults.at(-1)!.msg)}"` : undefined;
}

export async function restart(server: FuzzedServer, token: string): Promise<void> {
  await server.respawn();
  const problem = await servingProblem(server, token);
  if (problem !== undefined) throw new Error(`restarted, and still not serving: ${problem}`);
}

/** The one case of `suspects` that brings trouble on its own, if there is one. Restarts the server as it goes. */
async function bisect(server: FuzzedServer, target: RawTarget, suspects: RawCase[], token: string): Promise<RawCase | undefined> {
  while (suspects.length > 0) {
    const halves = suspects.length === 1 ? [suspects] : [suspects.slice(0, Math.ceil(suspects.length / 2)), suspects.slice(Math.ceil(suspects.length / 2))];
    let guilty: RawCase[] | undefined;
    for (const half of halves) {
      const faultsBefore = server.faults().length;
      await runCases(target, half);
      if ((await trouble(server, token, faultsBefore)) !== undefined) {
        await restart(server, token);
        guilty = half;
        break;
      }
    }
    if (!guilty) return undefined; // only a mix of cases, or timing, does it
    if (guilty.length === 1) return guilty[0];
    suspects = guilty;
  }
  return undefined;
}

/** Sends `cases` in batches; after each, the server must still serve. Returns this target's findings. */
export async function fuzz(name: string, server: FuzzedServer, target: RawTarget, cases: RawCase[], token: string): Promise<Finding[]> {
  const found: Finding[] = [];
  const before = await servingProblem(server, token);
  if (before !== undefined) throw new Error(`not serving before the first case: ${before}`);
  for (let at = 0; at < cases.length; at += BATCH) {
    const batch = cases.slice(at, at + BATCH);
    const faultsBefore = server.faults().length;
    const outcomes = await runCases(target, batch);
    batch.forEach((c, i) => {
      const outcome = classify(outcomes[i]!);
      // Whatever was sent, a 500 means the server failed, not the request.
      if (http1Status(outcomes[i]!.received) === 500)
        found.push({ target: name, problem: "answered 500", signature: outcomes[i]!.received.subarray(0, 300).toString("latin1"), culprit: describeCase(c) });
      figures.add(`${name}: cases sent`);
      figures.add(`${name}: ${outcome}`);
      figures.add(`category: ${c.category}`);
    });
    figures.add("batches checked");
    const problem = await trouble(server, token, faultsBefore);
    if (problem === undefined) continue;
    if (server.endedFromOutside() && outsideRestarts < 3) {
      // Not a crash (a crash exits with a non-zero code): start over and send the batch again.
      outsideRestarts++;
      figures.add("restarts: was stopped from outside");
      process.stdout.write(`listener fuzzing: ${problem}; restarting and repeating the batch\n`);
      await restart(server, token);
      at -= BATCH;
      continue;
    }
    figures.add(`${name}: batches with trouble (not serving, or an unhandled error logged)`);
    const signature = faultSignature(server);
    // Dead or stuck: start it over on the same ports.
    await restart(server, token);
    let culprit = "not bisected (one of this kind was bisected already)";
    if (!bisected.has(signature) && bisected.size < MAX_BISECTS) {
      bisected.add(signature);
      const c = await bisect(server, target, batch, token);
      culprit = c === undefined ? "no single case of the batch does it alone" : describeCase(c);
    }
    found.push({ target: name, problem, signature, culprit });
  }
  findings.push(...found);
  return found;
}
