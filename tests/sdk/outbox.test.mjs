// The browser SDK's outbox, run for real in node against stubbed browser APIs and a fake
// collector that counts what it stores by event_id (as the real one does). Each scenario ends
// with every valid event stored exactly once and nothing left pending.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Collector, same, settle, tab } from "./harness.mjs";

function assertExactlyOnce(collector, ids) {
  same([...collector.stored.keys()].sort(), [...ids].sort());
  for (const count of collector.stored.values()) assert.equal(count, 1);
}

test("a fetch in flight, a beacon, then new events: the conversion is sent", async () => {
  const collector = new Collector();
  const t = tab();
  const pageView = t.sdk.pending()[0].event_id; // the automatic page_view, queued
  await t.runTimers(); // flush: [page_view] in flight
  assert.equal(t.requests.length, 1);
  const heartbeat = t.sdk.heartbeat(); // queued while the fetch is in flight
  t.hide(); // beacon: takes the queued heartbeat only
  same(t.beacons.map((b) => b.events.map((e) => e.event_id)), [[heartbeat]]);
  collector.answer(t.beacons[0]);
  t.show();
  const conversion = t.sdk.conversion("purchase", 49);
  const click = t.sdk.track("click", { target: "#buy" });
  await t.respond(t.requests[0], collector); // answers [page_view] only
  same(t.sdk.queue.map((e) => e.event_id), [conversion, click]);
  await t.runTimers();
  assert.equal(t.requests.length, 2);
  await t.respond(t.requests[1], collector);
  assertExactlyOnce(collector, [pageView, heartbeat, conversion, click]);
  same(t.sdk.pending(), []);
});

test("two fetches overlapping, answered out of order", async () => {
  const collector = new Collector();
  const t = tab({ dataset: { autoPageView: "false" } });
  const first = [t.sdk.pageView(), t.sdk.track("click", { target: "a" })];
  t.sdk.flush();
  const second = [t.sdk.conversion("signup"), t.sdk.heartbeat()];
  t.sdk.flush();
  assert.equal(t.requests.length, 2);
  same(t.requests[1].body.events.map((e) => e.event_id), second);
  await t.respond(t.requests[1], collector);
  same(t.sdk.pending().map((e) => e.event_id), first);
  await t.respond(t.requests[0], collector);
  assertExactlyOnce(collector, [...first, ...second]);
  same(t.sdk.pending(), []);
});

test("503 then a retry with the very same event ids", async () => {
  const collector = new Collector();
  const t = tab();
  await t.runTimers();
  const sent = t.requests[0].body.events.map((e) => e.event_id);
  await t.respond(t.requests[0], collector, { status: 503, body: { error: "backend_unavailable" } });
  assert.equal(collector.stored.size, 0);
  same(t.sdk.queue.map((e) => e.event_id), sent); // back in the queue
  t.requests.length = 0;
  await t.runTimers();
  same(t.requests[0].body.events.map((e) => e.event_id), sent);
  await t.respond(t.requests[0], collector);
  assertExactlyOnce(collector, sent);
  assert.equal(t.sdk.retryDelay, 0);
});

test("a network error is retried too, and a lost answer only makes a duplicate", async () => {
  const collector = new Collector();
  const t = tab();
  await t.runTimers();
  const request = t.requests[0];
  collector.answer(request.body); // the server stored it, but the answer never arrives
  request.reject(new TypeError("Failed to fetch"));
  await settle();
  await t.runTimers();
  await t.respond(t.requests[1], collector);
  assert.equal(collector.duplicates, 1);
  assertExactlyOnce(collector, request.body.events.map((e) => e.event_id));
  same(t.sdk.pending(), []);
});

test("a 400 naming one event drops only that one; the rest is re-sent", async () => {
  const collector = new Collector();
  const t = tab({ href: "file:///Users/me/page.html", dataset: { autoPageView: "false" } });
  const bad = t.sdk.pageView(); // a file:// page: the server will never take it
  t.window.location.href = "https://shop.example/pricing";
  const good = [t.sdk.pageView(), t.sdk.track("click", { target: "#plan" })];
  t.sdk.flush();
  await t.respond(t.requests[0], collector); // 400: index 0 named
  same(t.sdk.dropped.map((d) => d.event.event_id), [bad]);
  await t.runTimers();
  assert.equal(t.requests.length, 2);
  await t.respond(t.requests[1], collector);
  assertExactlyOnce(collector, good);
  same(t.sdk.pending(), []);
});

test("a reload sends what the last page queued or had in flight", async () => {
  const collector = new Collector();
  const session = new Map();
  const local = new Map();
  const before = tab({ session, local, dataset: { autoPageView: "false" } });
  const inFlight = before.sdk.pageView();
  before.sdk.flush(); // in flight when the page goes away; never answered
  const queued = before.sdk.track("click", { target: "a.next" });
  const after = tab({ session, local }); // same tab: sessionStorage survives, the page does not
  assert.equal(after.sdk.sessionId, before.sdk.sessionId);
  const restored = after.sdk.pending().map((e) => e.event_id);
  assert.ok(restored.includes(inFlight) && restored.includes(queued));
  await after.runTimers();
  for (const request of after.requests) await after.respond(request, collector);
  assertExactlyOnce(collector, [inFlight, queued, ...restored.filter((id) => id !== inFlight && id !== queued)]);
  same(after.sdk.pending(), []);
  assert.equal(JSON.parse(session.get("li_outbox")).length, 0);
});

test("every body says when it was sent, so the server can correct the client's clock", async () => {
  const t = tab();
  await t.runTimers();
  const body = t.requests[0].body;
  assert.equal(typeof body.sent_at, "number");
  for (const event of body.events) assert.ok(event.timestamp <= body.sent_at);
});

test("with data-respect-privacy, Global Privacy Control means nothing is tracked", async () => {
  const t = tab({ privacy: true, dataset: { respectPrivacy: "true" } });
  assert.equal(t.sdk.disabled, true);
  assert.equal(t.sdk.conversion("purchase", 1), null);
  await t.runTimers();
  t.hide();
  same([t.requests.length, t.beacons.length, t.sdk.pending().length], [0, 0, 0]);
});

test("without the opt-in, the same browser is tracked as before", async () => {
  const t = tab({ privacy: true });
  assert.equal(t.sdk.disabled, false);
  await t.runTimers();
  assert.equal(t.requests.length, 1);
});
