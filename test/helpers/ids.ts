import { randomUUID } from "node:crypto";
import { ulid } from "ulid";

/** A tenant id no other test uses. */
export const tenant = (label = "t"): string => `${label}-${randomUUID().slice(0, 13)}`;
export const person = (): string => `per_${ulid()}`;
export const project = (): string => `prj_${ulid()}`;
