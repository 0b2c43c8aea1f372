// The browser SDK's outbox, run for real in node against stubbed browser APIs and a fake
// collector that counts what it stores by event_id (as the real one does). Each scenario ends
// with every valid event stored exactly once and nothing left pending.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import vm from "node:vm";

const SDK = readFileSync(new URL("../../liveinsight/static/sdk/liveinsight.js", import.meta.url), "utf8");
// Arrays made inside the page's realm have its own prototypes: compare them as JSON values.
const plain = (value) => JSON.parse(JSON.stringify(value));
const same = (actual, expected, message) => assert.deepEqual(plain(actual), plain(expected), message);
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function settle() {
  for (let i = 0; i < 10; i++) await tick();
}

/** The collector: stores an event once per event_id, refuses file:// pages by index (400). */
class Collector {
  constructor() {
    this.stored = new Map(); // event_id -> times accepted (must end at 1)
    this.duplicates = 0;
    this.bodies = [];
  }
  answer(body) {
    this.bodies.push(body);
    const details = [];
    body.events.forEach((event, index) => {
      if (event.page_url.startsWith("file:")) details.push({ index, field: "page_url", problem: "must be a path or an http(s) URL" });
    });
    if (details.length) return { status: 400, body: { error: "validation_error", message: "1 problem(s) in: page_url", details } };
    const results = body.events.map((event) => {
      if (this.stored.has(event.event_id)) {
        this.duplicates++;
        return { event_id: event.event_id, session_id: event.session_id, status: "duplicate" };
      }
      this.stored.set(event.event_id, 1);
      return { event_id: event.event_id, session_id: event.session_id, status: "accepted" };
    });
    return { status: 200, body: { accepted: results.filter((r) => r.status === "accepted").length, results } };
  }
}

/** One tab: window, document, storage, fetch held until answered, beacons, manual timers. */
function tab({ session = new Map(), local = new Map(), href = "https://shop.example/", privacy = false, dataset = {} } = {}) {
  const requests = [];
  const beacons = [];
  const timers = [];
  const listeners = {};
  const storage = (map) => ({ getItem: (k) => (map.has(k) ? map.get(k) : null), setItem: (k, v) => map.set(k, String(v)) });
  const on = (type, fn) => (listeners[type] = listeners[type] || []).push(fn);
  // the script tag, as a site writes it: data-* attributes are the options
  const currentScript = { dataset, src: "https://shop.example/sdk/liveinsight.js" };
  const document = { referrer: "", visibilityState: "visible", addEventListener: on, currentScript };
  const window = {
    location: { href },
    document,
    navigator: {
      globalPrivacyControl: privacy,
      sendBeacon: (url, blob) => { beacons.push(JSON.parse(blob.text)); return true; },
    },
    crypto: { randomUUID },
    sessionStorage: storage(session),
    localStorage: storage(local),
    addEventListener: on,
    setTimeout: (fn) => { timers.push(fn); return timers.length; },
    clearTimeout: () => {},
    setInterval: () => 0,
    fetch: (url, init) => new Promise((resolve, reject) => requests.push({ body: JSON.parse(init.body), resolve, reject })),
    Blob: class { constructor(parts) { this.text = parts.join(""); } },
    console: { warn: () => {} },
    Promise, JSON, Math, Date, Object, Array, Number, String, URL,
  };
  window.window = window;
  const context = vm.createContext(window);
  vm.runInContext(SDK, context);
  const sdk = window.liveinsight;
  return {
    sdk, window, requests, beacons, session,
    async respond(request, collector, override) {
      const answer = override || collector.answer(request.body);
      request.resolve({
        ok: answer.status >= 200 && answer.status < 300,
        status: answer.status,
        json: async () => answer.body,
        text: async () => JSON.stringify(answer.body),
      });
      await settle();
    },
    async runTimers() {
      while (timers.length) timers.shift()();
      await settle();
    },
    hide() { document.visibilityState = "hidden"; (listeners.visibilitychange || []).forEach((fn) => fn()); },
    show() { document.visibilityState = "visible"; (listeners.visibilitychange || []).forEach((fn) => fn()); },
  };
}

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
