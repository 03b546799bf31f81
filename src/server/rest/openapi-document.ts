/** TEMPORARY placeholder until the generator lands. */
export function openApiDocument(): Buffer {
  return Buffer.from("{}");
}
