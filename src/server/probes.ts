/**
 * The load balancer probes, served the same way on the API port and the admin
 * port: `/healthz` (the process answers) and `/readyz` (it would serve a call:
 * started, not draining, database reachable). No token on either.
 */

/** Would this process serve a call now? Undefined while it is still starting. */
export type Readiness = () => Promise<boolean | undefined>;

/** A probe's answer: status and plain-text body. */
export interface ProbeAnswer {
  status: number;
  body: string;
}

/** True for the paths this module answers. */
export function isProbePath(path: string): boolean {
  return path === "/healthz" || path === "/readyz";
}

/**
 * The answer to a probe path (see isProbePath). A readiness check that fails
 * rejects: each port answers that as its other handler failures.
 */
export async function answerProbe(path: string, ready: Readiness): Promise<ProbeAnswer> {
  if (path === "/healthz") return { status: 200, body: "ok\n" };
  const state = await ready();
  if (state === undefined) return { status: 503, body: "starting: waiting for the database\n" };
  return state ? { status: 200, body: "ready\n" } : { status: 503, body: "not ready\n" };
}
