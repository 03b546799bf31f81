/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl and
 * `buf curl` can discover the API without local .proto files. Descriptors
 * come from the generated code's embedded files, with transitive imports.
 */
import { create, fromBinary, toBinary, type DescFile, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  ServerReflection as ReflectionV1,
  ServerReflectionRequestSchema as RequestV1,
  ServerReflectionResponseSchema as ResponseV1,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ReflectionV1Alpha,
  ServerReflectionRequestSchema as RequestV1Alpha,
  ServerReflectionResponseSchema as ResponseV1Alpha,
} from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** gRPC status codes, as reflection's ErrorResponse carries them. */
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

/** Answers reflection requests about a fixed set of services. */
export class ReflectionIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly extensions = new Map<string, Map<number, DescFile>>();
  private readonly serviceNames: string[];

  constructor(services: DescService[]) {
    this.serviceNames = services.map((s) => s.typeName);
    for (const s of services) this.addFile(s.file);
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    file.dependencies.forEach((d) => this.addFile(d));
    const addMessage = (m: DescMessage): void => {
      this.symbols.set(m.typeName, file);
      m.nestedMessages.forEach(addMessage);
      m.nestedEnums.forEach((e) => this.symbols.set(e.typeName, file));
      m.nestedExtensions.forEach((x) => this.addExtension(x.extendee.typeName, x.number, x.typeName, file));
      m.fields.forEach((f) => this.symbols.set(`${m.typeName}.${f.name}`, file));
    };
    file.messages.forEach(addMessage);
    file.enums.forEach((e) => this.symbols.set(e.typeName, file));
    file.extensions.forEach((x) => this.addExtension(x.extendee.typeName, x.number, x.typeName, file));
    for (const s of file.services) {
      this.symbols.set(s.typeName, file);
      s.methods.forEach((m) => this.symbols.set(`${s.typeName}.${m.name}`, file));
    }
  }

  private addExtension(extendee: string, number: number, typeName: string, file: DescFile): void {
    this.symbols.set(typeName, file);
    let byNumber = this.extensions.get(extendee);
    if (!byNumber) this.extensions.set(extendee, (byNumber = new Map<number, DescFile>()));
    byNumber.set(number, file);
  }

  /** The file and every file it imports, transitively, serialized. */
  private withImports(file: DescFile): Uint8Array[] {
    const out: DescFile[] = [];
    const visit = (f: DescFile): void => {
      if (out.includes(f)) return;
      out.push(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return out.map((f) => toBinary(FileDescriptorProtoSchema, f.proto));
  }

  answer(req: ServerReflectionRequest): ServerReflectionResponse {
    const base = { validHost: req.host, originalRequest: req };
    const error = (message: string): ServerReflectionResponse =>
      create(ResponseV1, { ...base, messageResponse: { case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: message } } });
    const files = (file: DescFile | undefined, what: string): ServerReflectionResponse =>
      file
        ? create(ResponseV1, { ...base, messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: this.withImports(file) } } })
        : error(`${what} not found`);
    const m = req.messageRequest;
    switch (m.case) {
      case "listServices":
        return create(ResponseV1, {
          ...base,
          messageResponse: { case: "listServicesResponse", value: { service: this.serviceNames.map((name) => ({ name })) } },
        });
      case "fileByFilename":
        return files(this.files.get(m.value), `file ${m.value}`);
      case "fileContainingSymbol":
        return files(this.symbols.get(m.value), `symbol ${m.value}`);
      case "fileContainingExtension":
        return files(
          this.extensions.get(m.value.containingType)?.get(m.value.extensionNumber),
          `extension ${m.value.extensionNumber} of ${m.value.containingType}`,
        );
      case "allExtensionNumbersOfType": {
        if (!this.symbols.has(m.value)) return error(`type ${m.value} not found`);
        return create(ResponseV1, {
          ...base,
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: m.value, extensionNumber: [...(this.extensions.get(m.value)?.keys() ?? [])] },
          },
        });
      }
      default:
        return create(ResponseV1, {
          ...base,
          messageResponse: { case: "errorResponse", value: { errorCode: INVALID_ARGUMENT, errorMessage: "empty or unknown reflection request" } },
        });
    }
  }
}

/** The two reflection services of the index (v1alpha shares v1's wire format). */
export function reflectionRoutes(index: ReflectionIndex): (router: ConnectRouter) => void {
  return (router) => {
    router.service(ReflectionV1, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) yield index.answer(req);
      },
    });
    router.service(ReflectionV1Alpha, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          const answer = index.answer(fromBinary(RequestV1, toBinary(RequestV1Alpha, req)));
          yield fromBinary(ResponseV1Alpha, toBinary(ResponseV1, answer));
        }
      },
    });
  };
}

/** The reflection services' own descriptors, so they list themselves. */
export const REFLECTION_SERVICES: DescService[] = [ReflectionV1, ReflectionV1Alpha];
