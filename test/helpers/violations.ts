import { InvalidArgumentError, Violations, type FieldViolation } from "../../src/domain/errors.js";

/** The violations a validator records, in order, as `field: description` pairs (empty when it records none). */
export function violationsOf(check: (v: Violations) => unknown): FieldViolation[] {
  const v = new Violations();
  check(v);
  try {
    v.throwIfAny();
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err.violations;
    throw err;
  }
  return [];
}

/** What `fn` throws (a test failure when it returns). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}
