/** The size estimate that lets a list page stop short of the response cap never undercounts. */
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CapacitySchema, SourceType } from "../../src/gen/work/v1/capacity_pb.js";
import { estimatedSize } from "../../src/service/mapping.js";

const text = (max: number) => fc.string({ unit: "binary", maxLength: max });
const ms = fc.integer({ min: 0, max: 253_402_300_799_000 });

describe("estimatedSize", () => {
  it.each([
    ["control characters", "\u0001"],
    ["quotes", '"'],
    ["backslashes", "\\"],
    ["lone surrogates", "\ud800"],
    ["emoji", "😀"],
    ["accented letters", "é"],
  ])("counts notes made only of %s as JSON writes them", (_name, unit) => {
    const c = create(CapacitySchema, { id: "cap_01HV0000000000000000000000", notes: unit.repeat(4000), source: unit.repeat(64) });
    expect(estimatedSize(c)).toBeGreaterThanOrEqual(Buffer.byteLength(toJsonString(CapacitySchema, c)));
  });

  it("is at least the encoded size in binary and in JSON, whatever the strings hold", () => {
    fc.assert(
      fc.property(
        fc.record({
          id: text(40),
          tenantId: text(64),
          appId: text(64),
          createdBy: text(64),
          updatedBy: text(64),
          source: text(64),
          deletedBy: text(64),
          personId: text(64),
          projectId: text(64),
          periodStart: text(10),
          periodEnd: text(10),
          confirmedById: text(64),
          notes: text(4000),
          etag: text(16),
          allocatedPct: fc.double({ min: 0, max: 100, noNaN: true }),
          schemaVersion: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          createdAt: ms,
          updatedAt: ms,
          deletedAt: fc.option(ms, { nil: undefined }),
          confirmedAt: fc.option(ms, { nil: undefined }),
          isDeleted: fc.boolean(),
        }),
        (f) => {
          const c = create(CapacitySchema, {
            ...f,
            sourceType: SourceType.FRONTEND,
            createdAt: timestampFromMs(f.createdAt),
            updatedAt: timestampFromMs(f.updatedAt),
            deletedAt: f.deletedAt === undefined ? undefined : timestampFromMs(f.deletedAt),
            confirmedAt: f.confirmedAt === undefined ? undefined : timestampFromMs(f.confirmedAt),
          });
          const json = Buffer.byteLength(toJsonString(CapacitySchema, c));
          const binary = toBinary(CapacitySchema, c).byteLength;
          expect(estimatedSize(c)).toBeGreaterThanOrEqual(Math.max(json, binary));
        },
      ),
      { numRuns: 300 },
    );
  });
});
