/**
 * Proto comments as OpenAPI prose. protoplugin's getComments walks the descriptor's `proto` objects and the
 * file's source info; it is typed against the copy of @bufbuild/protobuf that protoplugin pins (2.13), while
 * the plugin's descriptors come from the project's copy (see bridge.ts). The shapes it reads are the same.
 */
import type { DescEnum, DescEnumValue, DescField, DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";

/** The descriptors whose comments the document shows. */
export type Commented = DescEnum | DescEnumValue | DescField | DescMessage | DescMethod | DescService;

/** The element's leading comment, one space of indentation removed from each line, trimmed; "" if none. */
export function commentOf(desc: Commented): string {
  const leading = getComments(desc as unknown as Parameters<typeof getComments>[0]).leading ?? "";
  return leading
    .split("\n")
    .map((line) => (line.startsWith(" ") ? line.slice(1) : line).trimEnd())
    .join("\n")
    .trim();
}

/** The first sentence of the comment's first paragraph, on one line: an operation's summary. */
export function summaryOf(comment: string): string {
  const paragraph = (comment.split(/\n\s*\n/)[0] ?? "").replace(/\s*\n\s*/g, " ");
  const end = /\.(\s|$)/.exec(paragraph);
  return end ? paragraph.slice(0, end.index + 1) : paragraph;
}

/** AIP's marker for fields the server sets: "Output only." (not "Output only on reads; …", which clients may send). */
export function isOutputOnly(field: DescField): boolean {
  return /^Output only\./.test(commentOf(field));
}
