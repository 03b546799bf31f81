/**
 * The resource-shaped client over any connect-es transport:
 * `client.work.capacity.*` and `client.work.availability.*`, each method one
 * RPC of work.v1.CapacityService (listAll one per page). Request and result
 * types come from the generated code, so a field added to the proto shows up
 * here without an edit.
 */
import { clone, create, isMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type CallOptions as ConnectCallOptions, type Transport } from "@connectrpc/connect";
import {
  CapacitySchema,
  CapacityService,
  type BatchGetPersonAvailabilityRequest,
  type Capacity,
  type ConfirmCapacityRequest,
  type DeleteCapacityRequest,
  type GetPersonAvailabilityRequest,
  type ListCapacitiesRequest,
  type ListCapacitiesResponse,
  type PersonAvailability,
  type SetCapacityRequest,
  type UndeleteCapacityRequest,
} from "./gen/work/v1/capacity_pb.js";

/** What a request message's fields are, without the message's own bookkeeping. */
type Fields<M> = Omit<M, "$typeName" | "$unknown">;

/** Per-call options, the last argument of every method. */
export interface CallOptions {
  /** Aborts the call; it then fails with `Code.Canceled`. */
  signal?: AbortSignal;
  /** A deadline for this call; past it the call fails with `Code.DeadlineExceeded`. */
  timeoutMs?: number;
  /** Headers for this call only; they win over the client's `headers`. */
  headers?: ConnectCallOptions["headers"];
}

/** Filters of a list call, with the page to read. Filters combine with AND. */
export type ListFilters = Partial<Fields<ListCapacitiesRequest>>;

/** Filters of `listAll`, which pages by itself: the page size is how many records each call fetches. */
export type ListAllFilters = Omit<ListFilters, "pageToken">;

/** A capacity to write: no `id` creates one, an `id` updates it. Output-only fields are ignored by the server. */
export type CapacityInput = MessageInitShape<typeof CapacitySchema>;

/** Options of `set`. */
export type SetOptions = Partial<Omit<Fields<SetCapacityRequest>, "capacity" | "updateMask">> & {
  /**
   * Update only: the fields to change, by proto name (`allocated_pct`) or by
   * their name here (`allocatedPct`), or `*` for all. Without a mask every
   * writable field is replaced.
   */
  updateMask?: readonly string[];
  /** Makes the write conditional on this etag; overrides `capacity.etag` when both are set. */
  etag?: string;
};

/** Options of `delete`. */
export type DeleteOptions = Partial<Omit<Fields<DeleteCapacityRequest>, "id">>;

/** Options of `undelete`. */
export type UndeleteOptions = Partial<Omit<Fields<UndeleteCapacityRequest>, "id">>;

/** Options of `confirm`. */
export type ConfirmOptions = Partial<Omit<Fields<ConfirmCapacityRequest>, "id">>;

/** The window and switches of one person's availability; `periodStart` and `periodEnd` are required. */
export type AvailabilityQuery = Partial<Omit<Fields<GetPersonAvailabilityRequest>, "personId">> &
  Pick<GetPersonAvailabilityRequest, "periodStart" | "periodEnd">;

/** The window and switches of several people's availability; `periodStart` and `periodEnd` are required. */
export type BatchAvailabilityQuery = Partial<Omit<Fields<BatchGetPersonAvailabilityRequest>, "personIds">> &
  Pick<BatchGetPersonAvailabilityRequest, "periodStart" | "periodEnd">;

/** `client.work.capacity`: people's allocations to projects. */
export interface CapacityResource {
  /** One page of capacities, ordered by `periodStart`, then `id`; pass `nextPageToken` back as `pageToken` with the same filters. */
  list(filters?: ListFilters, options?: CallOptions): Promise<ListCapacitiesResponse>;
  /** Every capacity that matches, page after page (fetched as the loop reaches them). */
  listAll(filters?: ListAllFilters, options?: CallOptions): AsyncIterable<Capacity>;
  /** One capacity by id, soft-deleted ones included. */
  get(id: string, options?: CallOptions): Promise<Capacity>;
  /** Creates (no `capacity.id`) or updates (with it) a capacity; returns it as stored. */
  set(capacity: CapacityInput, setOptions?: SetOptions, options?: CallOptions): Promise<Capacity>;
  /** Soft deletes a capacity; it stays readable by id. */
  delete(id: string, deleteOptions?: DeleteOptions, options?: CallOptions): Promise<Capacity>;
  /** Restores a soft-deleted capacity. */
  undelete(id: string, undeleteOptions?: UndeleteOptions, options?: CallOptions): Promise<Capacity>;
  /** Confirms a capacity on behalf of the caller. */
  confirm(id: string, confirmOptions?: ConfirmOptions, options?: CallOptions): Promise<Capacity>;
}

/** `client.work.availability`: how much of people is allocated, and free, over a window. */
export interface AvailabilityResource {
  /** One person's availability over the window. */
  get(personId: string, query: AvailabilityQuery, options?: CallOptions): Promise<PersonAvailability>;
  /** The availability of up to 500 distinct people over one window, in the order asked. */
  batchGet(personIds: readonly string[], query: BatchAvailabilityQuery, options?: CallOptions): Promise<PersonAvailability[]>;
}

/** The typed client of the Capacity service. */
export interface CapacityClient {
  /** The `work` area of the API. */
  readonly work: {
    readonly capacity: CapacityResource;
    readonly availability: AvailabilityResource;
  };
}

/** Proto field names by the names used here (`allocatedPct` → `allocated_pct`). */
const protoNames = new Map(CapacitySchema.fields.map((f) => [f.localName, f.name]));

/** A mask path as the server expects it: a field's proto name; anything unknown is sent as given, for the server to refuse. */
function maskPath(path: string): string {
  return protoNames.get(path) ?? path;
}

/** A copy of the caller's capacity, so that setting the etag never changes their object. */
function capacityMessage(input: CapacityInput): Capacity {
  return isMessage(input, CapacitySchema) ? clone(CapacitySchema, input) : create(CapacitySchema, input);
}

/**
 * The client over a transport made elsewhere (say, one with your own
 * interceptors, or an in-memory one in tests). `createCapacityClient` builds
 * the transport from options and calls this.
 */
export function createCapacityClientFromTransport(transport: Transport): CapacityClient {
  const rpc = createClient(CapacityService, transport);

  const capacity: CapacityResource = {
    list: (filters = {}, options) => rpc.listCapacities(filters, options),
    async *listAll(filters = {}, options) {
      let pageToken = "";
      do {
        const page = await rpc.listCapacities({ ...filters, pageToken }, options);
        yield* page.capacities;
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    },
    get: (id, options) => rpc.getCapacity({ id }, options),
    set(input, { updateMask, etag, ...rest } = {}, options) {
      const message = capacityMessage(input);
      if (etag !== undefined) message.etag = etag;
      return rpc.setCapacity({ ...rest, capacity: message, ...(updateMask && { updateMask: { paths: updateMask.map(maskPath) } }) }, options);
    },
    delete: (id, deleteOptions = {}, options) => rpc.deleteCapacity({ ...deleteOptions, id }, options),
    undelete: (id, undeleteOptions = {}, options) => rpc.undeleteCapacity({ ...undeleteOptions, id }, options),
    confirm: (id, confirmOptions = {}, options) => rpc.confirmCapacity({ ...confirmOptions, id }, options),
  };

  const availability: AvailabilityResource = {
    get: (personId, query, options) => rpc.getPersonAvailability({ ...query, personId }, options),
    async batchGet(personIds, query, options) {
      const res = await rpc.batchGetPersonAvailability({ ...query, personIds: [...personIds] }, options);
      return res.availabilities;
    },
  };

  return { work: { capacity, availability } };
}
