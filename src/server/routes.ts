import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { UnauthenticatedError } from "../domain/errors.js";
import { CapacityService as CapacityServiceDef } from "../gen/work/v1/capacity_pb.js";
import type { CapacityService } from "../service/capacity-service.js";
import { deadlineFor, type Call } from "../service/call.js";
import { callerKey } from "./context.js";

export interface Services {
  capacity: CapacityService;
}

export interface RouteOptions {
  /** Longest a call may take, whatever deadline the client sent (or none). */
  maxDeadlineMs: number;
}

/** The verified caller and the call's deadline: the client's, capped. */
function callOf(ctx: HandlerContext, maxDeadlineMs: number): Call {
  const caller = ctx.values.get(callerKey);
  if (!caller) throw new UnauthenticatedError("no verified caller");
  return { ...caller, deadline: deadlineFor(ctx.timeoutMs(), maxDeadlineMs) };
}

/** The API's RPCs, each handed to the service core with its call. */
export function routes(services: Services, options: RouteOptions): (router: ConnectRouter) => void {
  const capacity = services.capacity;
  const call = (ctx: HandlerContext): Call => callOf(ctx, options.maxDeadlineMs);
  return (router) => {
    router.service(CapacityServiceDef, {
      getCapacity: (req, ctx) => capacity.getCapacity(call(ctx), req),
      listCapacities: (req, ctx) => capacity.listCapacities(call(ctx), req),
      setCapacity: (req, ctx) => capacity.setCapacity(call(ctx), req),
      deleteCapacity: (req, ctx) => capacity.deleteCapacity(call(ctx), req),
      undeleteCapacity: (req, ctx) => capacity.undeleteCapacity(call(ctx), req),
      confirmCapacity: (req, ctx) => capacity.confirmCapacity(call(ctx), req),
      getPersonAvailability: (req, ctx) => capacity.getPersonAvailability(call(ctx), req),
      batchGetPersonAvailability: (req, ctx) => capacity.batchGetPersonAvailability(call(ctx), req),
    });
  };
}
