/**
 * What every CapacityService call passes before its handler, on either engine
 * (connect-node's interceptor, the grpc-js engine): the token is verified,
 * then the caller's rate limits are charged.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import type { Caller } from "../auth/caller.js";
import type { TokenVerifier } from "../auth/verifier.js";
import type { RateLimiter } from "./rate-limit.js";

/** Token check, then rate limits: one instance per process, shared by both engines so a caller is limited once. */
export class Admission {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly limiter: RateLimiter,
  ) {}

  /**
   * The verified caller of one call of `method`. Throws
   * UnauthenticatedError or RateLimitedError; `known` receives the caller as
   * soon as the token is verified, so even a refused call is logged with its tenant.
   */
  async admit(method: DescMethod, authorization: string | null | undefined, known?: (caller: Caller) => void): Promise<Caller> {
    const caller = await this.verifier.verify(authorization);
    known?.(caller);
    this.limiter.admit(caller, method);
    return caller;
  }
}
