/**
 * protoc plugin: one `openapi.json` (OpenAPI 3.1) describing the HTTP/JSON bindings (`google.api.http`) of
 * the services in the files to generate. Run by `buf generate` (buf.gen.yaml, `strategy: all`); imports
 * nothing from src/gen, which buf cleans before plugins run.
 */
import { create, createFileRegistry, fromBinary, toBinary, type DescFile } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, FileDescriptorSetSchema, type CodeGeneratorRequest } from "@bufbuild/protobuf/wkt";
import { createEcmaScriptPlugin, runNodeJs, type Schema } from "@bufbuild/protoplugin";
import { buildDocument } from "./openapi/document.js";

/** The document for whichever target (ts, js, dts) runs first: one file, whatever the `target` option says. */
function generate(schema: Schema, target: string): void {
  if (target !== schema.targets[0]) return;
  // protoplugin pins its own copy of @bufbuild/protobuf (2.13); the project's (2.17) reads the same request
  // once re-encoded, so every descriptor and function below comes from one copy.
  const request = fromBinary(CodeGeneratorRequestSchema, toBinary(CodeGeneratorRequestSchema, schema.proto as unknown as CodeGeneratorRequest));
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: request.protoFile }));
  const files = request.fileToGenerate.map((name): DescFile => {
    const file = registry.getFile(name);
    if (!file) throw new Error(`openapi: ${name} is to be generated but not in the request`);
    return file;
  });
  const document = buildDocument(files, registry);
  if (document) schema.generateFile("openapi.json").print(JSON.stringify(document, null, 2));
}

runNodeJs(
  createEcmaScriptPlugin({
    name: "protoc-gen-openapi",
    version: "v1",
    generateTs: generate,
    generateJs: generate,
    generateDts: generate,
  }),
);
