import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import type { Caller } from "../auth/caller.js";
import { UnauthenticatedError } from "../domain/errors.js";
import { CapacityService as CapacityServiceDef } from "../gen/work/v1/capacity_pb.js";
import type { CapacityService } from "../service/capacity-service.js";
import { callerKey } from "./context.js";

export interface Services {
  capacity: CapacityService;
}

function callerOf(ctx: HandlerContext): Caller {
  const caller = ctx.values.get(callerKey);
  if (!caller) throw new UnauthenticatedError("no verified caller");
  return caller;
}

/** Every service the server exposes, registered in one place. */
export function routes(services: Services): (router: ConnectRouter) => void {
  const capacity = services.capacity;
  return (router) => {
    router.service(CapacityServiceDef, {
      getCapacity: (req, ctx) => capacity.getCapacity(callerOf(ctx), req),
      listCapacities: (req, ctx) => capacity.listCapacities(callerOf(ctx), req),
      setCapacity: (req, ctx) => capacity.setCapacity(callerOf(ctx), req),
      deleteCapacity: (req, ctx) => capacity.deleteCapacity(callerOf(ctx), req),
      undeleteCapacity: (req, ctx) => capacity.undeleteCapacity(callerOf(ctx), req),
      confirmCapacity: (req, ctx) => capacity.confirmCapacity(callerOf(ctx), req),
      getPersonAvailability: (req, ctx) => capacity.getPersonAvailability(callerOf(ctx), req),
      batchGetPersonAvailability: (req, ctx) => capacity.batchGetPersonAvailability(callerOf(ctx), req),
    });
  };
}
