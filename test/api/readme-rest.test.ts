/**
 * The README's curl examples of the HTTP/JSON API, run as written (only the
 * address changed to the test server's) with the real curl, in order: each
 * must exit 0 (`-f`: an HTTP error fails it) and answer JSON, and together
 * they must leave the record the way the README says.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { tenant } from "../helpers/ids.js";
import { useTestServer } from "../helpers/server.js";

const run = promisify(execFile);
const MARKER = "<!-- executed, in order, by test/api/readme-rest.test.ts -->";

/** The commands of the marked block: comment lines dropped, `\`-continued lines joined. */
function readmeCommands(): string[] {
  const readme = readFileSync("README.md", "utf8");
  const start = readme.indexOf(MARKER);
  if (start < 0) throw new Error("README.md has no marked curl block");
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))![1]!;
  const commands: string[] = [];
  let current = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("#")) continue;
    if (current === "" && line.trim() === "") continue;
    current += line.endsWith("\\") ? line.slice(0, -1) : line;
    // A quoted JSON body may span lines without a backslash: keep reading until the quotes close.
    if (!line.endsWith("\\") && (current.split("'").length - 1) % 2 === 0) {
      commands.push(current.trim());
      current = "";
    } else if (!line.endsWith("\\")) current += "\n";
  }
  return commands;
}

describe("the README's HTTP/JSON examples", () => {
  const suite = useTestServer("sqlite");

  it("run with curl as written, in order, and do what the README says", async () => {
    const commands = readmeCommands();
    expect(commands.length).toBeGreaterThanOrEqual(8);
    const env: Record<string, string> = { ...(process.env as Record<string, string>), TOKEN: await suite.server.token(tenant()) };
    const answers: Array<Record<string, unknown>> = [];
    for (const written of commands) {
      expect(written).toMatch(/^curl /);
      const command = written.replaceAll("http://127.0.0.1:8080", suite.server.baseUrl);
      const { stdout } = await run("bash", ["-c", command], { env });
      // With -i the headers come first; the JSON body follows the blank line.
      const [head, body] = stdout.includes("\r\n\r\n")
        ? [stdout.slice(0, stdout.indexOf("\r\n\r\n")), stdout.slice(stdout.indexOf("\r\n\r\n") + 4)]
        : ["", stdout];
      const answer = JSON.parse(body) as Record<string, unknown>;
      answers.push(answer);
      if (env.ID === undefined) {
        // The first answer is the create: 201, its Location and ETag name the record.
        expect(head).toMatch(/^HTTP\/1\.1 201 Created/);
        expect(head).toMatch(new RegExp(`\\r\\nlocation: /api/v1/work/capacity/${answer.id as string}\\r\\n`, "i"));
        env.ID = answer.id as string;
        env.ETAG = /\r\netag: ("[^"\r\n]*")/i.exec(head)![1]!;
      }
    }
    const byId = answers.filter((a) => a.id === env.ID);
    expect(byId.length).toBeGreaterThanOrEqual(6);
    const final = byId[byId.length - 1]!;
    expect(final).toMatchObject({ notes: "kick-off week", isDeleted: false, allocatedPct: 50 });
    expect(final.confirmedById).not.toBe("");
    const availability = answers[answers.length - 1]!;
    expect(availability).toMatchObject({ personId: "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", countedDays: 21, peakAllocatedPct: 50 });
  });
});
