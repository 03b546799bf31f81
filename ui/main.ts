/**
 * The Capacity web page: one person's allocations and availability, with
 * create, edit and confirm. Talks to the service that serves it (same origin)
 * with @connectrpc/connect-web over the Connect protocol (JSON) or gRPC-Web.
 */
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { CapacityService, OverallocationPolicy, type Capacity, type PersonAvailability } from "../src/gen/work/v1/capacity_pb.js";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
/**
 * Always this page's own origin: the page never sends the pasted token
 * anywhere else (its CSP, connect-src 'self', would refuse it anyway).
 */
const baseUrl = location.origin;

const token = $<HTMLInputElement>("token");
const transportSelect = $<HTMLSelectElement>("transport");
token.value = sessionStorage.getItem("capacity.token") ?? "";
transportSelect.value = params.get("transport") ?? "connect";
token.addEventListener("change", () => sessionStorage.setItem("capacity.token", token.value.trim()));

const auth: Interceptor = (next) => (req) => {
  req.header.set("authorization", `Bearer ${token.value.trim()}`);
  return next(req);
};

function client(): Client<typeof CapacityService> {
  const transport =
    transportSelect.value === "grpc-web"
      ? createGrpcWebTransport({ baseUrl, interceptors: [auth] })
      : createConnectTransport({ baseUrl, interceptors: [auth] });
  return createClient(CapacityService, transport);
}

function status(message: string, error = false): void {
  const el = $("status");
  el.textContent = message;
  el.className = error ? "error" : "";
}

function explain(err: unknown): string {
  const e = ConnectError.from(err);
  return `${Code[e.code]}: ${e.rawMessage}`;
}

const isoDay = (d: Date): string => d.toISOString().slice(0, 10);
const today = new Date();
$<HTMLInputElement>("from").value = params.get("from") ?? isoDay(today);
$<HTMLInputElement>("to").value = params.get("to") ?? isoDay(new Date(today.getTime() + 90 * 86_400_000));
$<HTMLInputElement>("person").value = params.get("person") ?? "";

let rows: Capacity[] = [];

function renderTimeline(a: PersonAvailability): void {
  $("summary").textContent =
    `average ${a.averageAllocatedPct}% · peak ${a.peakAllocatedPct}% · ` + `${a.overallocatedDays} day(s) over 100% · ${a.availableDays} day(s) with time free`;
  const timeline = $("timeline");
  timeline.replaceChildren();
  const day = (s: string): number => Date.parse(`${s}T00:00:00Z`) / 86_400_000;
  for (const s of a.segments) {
    const days = day(s.periodEnd) - day(s.periodStart) + 1;
    const seg = document.createElement("div");
    seg.className = s.overallocated ? "seg over" : "seg";
    seg.style.flex = String(days);
    seg.title = `${s.periodStart} – ${s.periodEnd}: ${s.allocatedPct}% allocated, ${s.availablePct}% free`;
    seg.dataset.allocated = String(s.allocatedPct);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.height = `${Math.min(100, s.allocatedPct)}%`;
    const label = document.createElement("span");
    label.textContent = s.allocatedPct > 0 ? `${s.allocatedPct}%` : "";
    seg.append(bar, label);
    timeline.append(seg);
  }
}

function renderRows(): void {
  const body = $("rows");
  body.replaceChildren();
  for (const c of rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = c.id;
    for (const text of [c.projectId, c.periodStart, c.periodEnd, String(c.allocatedPct ?? 0), c.confirmedById === "" ? "tentative" : "confirmed"]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const actions = document.createElement("td");
    const edit = document.createElement("button");
    edit.textContent = "Edit";
    edit.className = "edit";
    edit.onclick = () => fillForm(c);
    const confirm = document.createElement("button");
    confirm.textContent = "Confirm";
    confirm.className = "confirm";
    confirm.disabled = c.confirmedById !== "";
    confirm.onclick = () => void act(() => client().confirmCapacity({ id: c.id, etag: c.etag }), "confirmed");
    actions.append(edit, confirm);
    tr.append(actions);
    body.append(tr);
  }
}

function fillForm(c: Capacity | undefined): void {
  $("form-title").textContent = c ? `Edit ${c.id}` : "New allocation";
  $<HTMLInputElement>("f-id").value = c?.id ?? "";
  $<HTMLInputElement>("f-etag").value = c?.etag ?? "";
  $<HTMLInputElement>("f-project").value = c?.projectId ?? "";
  $<HTMLInputElement>("f-start").value = c?.periodStart ?? $<HTMLInputElement>("from").value;
  $<HTMLInputElement>("f-end").value = c?.periodEnd ?? "";
  $<HTMLInputElement>("f-pct").value = c ? String(c.allocatedPct ?? 0) : "";
  $<HTMLInputElement>("f-notes").value = c?.notes ?? "";
}

async function load(): Promise<void> {
  const personId = $<HTMLInputElement>("person").value.trim();
  const periodStart = $<HTMLInputElement>("from").value;
  const periodEnd = $<HTMLInputElement>("to").value;
  status("loading…");
  try {
    const api = client();
    const [list, availability] = await Promise.all([
      api.listCapacities({ personId, periodFrom: periodStart, periodTo: periodEnd, pageSize: 200 }),
      api.getPersonAvailability({ personId, periodStart, periodEnd }),
    ]);
    rows = list.capacities;
    renderRows();
    renderTimeline(availability);
    status(`${rows.length} allocation(s)`);
  } catch (err) {
    status(explain(err), true);
  }
}

async function act(call: () => Promise<Capacity>, done: string): Promise<void> {
  try {
    const c = await call();
    status(`${done} ${c.id}`);
    fillForm(undefined);
    await load();
    status(`${done} ${c.id}`);
  } catch (err) {
    status(explain(err), true);
  }
}

$("load").addEventListener("click", () => void load());
$("reset").addEventListener("click", () => fillForm(undefined));
$<HTMLFormElement>("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = $<HTMLInputElement>("f-id").value;
  const capacity = {
    id,
    etag: $<HTMLInputElement>("f-etag").value,
    personId: $<HTMLInputElement>("person").value.trim(),
    projectId: $<HTMLInputElement>("f-project").value.trim(),
    periodStart: $<HTMLInputElement>("f-start").value,
    periodEnd: $<HTMLInputElement>("f-end").value,
    allocatedPct: Number($<HTMLInputElement>("f-pct").value),
    notes: $<HTMLInputElement>("f-notes").value,
  };
  const policy = $<HTMLInputElement>("f-reject").checked ? OverallocationPolicy.REJECT : OverallocationPolicy.ALLOW;
  void act(() => client().setCapacity({ capacity, overallocationPolicy: policy, requestId: crypto.randomUUID() }), id ? "updated" : "created");
});
fillForm(undefined);
if (token.value !== "" && $<HTMLInputElement>("person").value !== "") void load();
