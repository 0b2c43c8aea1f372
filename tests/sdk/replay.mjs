// Runs programs of the Python outbox model (tests/outbox_model.py) against the real SDK and
// prints, per program, the state after every step in the model's shape. Reads a JSON list of
// programs on stdin; writes a JSON list of snapshot lists on stdout.
import { readFileSync } from "node:fs";
import { Collector, steppingClock, tab } from "./harness.mjs";

const HTTPS = "https://shop.example/";
const FILE = "file:///Users/me/shop.html"; // the collector refuses these pages (400, by index)

async function run(program) {
  const collector = new Collector();
  const session = new Map();
  const local = new Map();
  const clock = steppingClock();
  const open = (dataset) => tab({ session, local, clock, dataset });
  const ordinal = new Map(); // event_id -> creation ordinal, the model's name for it
  let page = open({ autoPageView: "false" });
  let answered = new Set();
  const ids = (events) => events.map((e) => ordinal.get(e.event_id));
  const request = (id) => page.requests[id - 1]; // the SDK posts request n as the n-th fetch
  const openRequests = () => Object.keys(page.sdk.inFlight).map(Number).filter((id) => !answered.has(id)).sort((a, b) => a - b);

  async function answer(id, how) {
    const r = request(id);
    answered.add(id);
    if (how === "server") return page.respond(r, collector);
    if (how === "503") return page.respond(r, collector, { status: 503, body: { error: "backend_unavailable" } });
    if (how === "lost") collector.answer(r.body);
    return page.fail(r);
  }

  const snapshots = [];
  for (const op of program) {
    if (op.op === "track") {
      page.window.location.href = op.bad ? FILE : HTTPS;
      ordinal.set(page.sdk.track("click", { target: "#buy" }), ordinal.size);
      page.window.location.href = HTTPS;
    } else if (op.op === "flush") {
      page.sdk.flush();
    } else if (op.op === "timers") {
      await page.runTimers();
    } else if (op.op === "answer") {
      await answer(op.request, op.as);
    } else if (op.op === "hide") {
      const before = page.beacons.length;
      page.hide();
      for (const body of page.beacons.slice(before)) collector.answer(body);
      page.show();
    } else if (op.op === "reload") {
      if (op.delivered) for (const id of openRequests()) collector.answer(request(id).body);
      page = open({ autoPageView: "false" }); // same tab: sessionStorage survives
      answered = new Set();
    } else if (op.op === "drain") {
      while (page.timerPending() || openRequests().length) {
        await page.runTimers();
        for (const id of openRequests()) await answer(id, "server");
      }
    } else {
      throw new Error("unknown operation " + op.op);
    }
    const inFlight = {};
    for (const id of Object.keys(page.sdk.inFlight).map(Number).sort((a, b) => a - b)) inFlight[String(id)] = ids(page.sdk.inFlight[id]);
    snapshots.push({
      queue: ids(page.sdk.queue),
      in_flight: inFlight,
      stored: [...collector.stored.keys()].map((id) => ordinal.get(id)).sort((a, b) => a - b),
      dropped: page.sdk.dropped.map((d) => ordinal.get(d.event.event_id)),
      sent: page.sdk.sent,
      beaconed: page.sdk.beaconed,
    });
  }
  return snapshots;
}

const programs = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const program of programs) results.push(await run(program));
process.stdout.write(JSON.stringify(results));
