/** Who is calling, as proven by the bearer token. Every read and write is scoped by it. */
export interface Caller {
  tenantId: string;
  /** The token's `sub`, in canonical reference form. */
  personId: string;
  /** Set for integration keys: the caller sees and writes only this app's records. */
  appId: string | undefined;
}
