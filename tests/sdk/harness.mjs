// A browser tab for the SDK in node: window, document, storage, fetch held until answered,
// beacons and manual timers, plus a collector that stores each event once by event_id.
// Used by outbox.test.mjs (hand-written scenarios) and replay.mjs (the Python model's programs).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import vm from "node:vm";

const SDK = readFileSync(new URL("../../liveinsight/static/sdk/liveinsight.js", import.meta.url), "utf8");
// Arrays made inside the page's realm have its own prototypes: compare them as JSON values.
export const plain = (value) => JSON.parse(JSON.stringify(value));
export const same = (actual, expected, message) => assert.deepEqual(plain(actual), plain(expected), message);
export const tick = () => new Promise((resolve) => setImmediate(resolve));

export async function settle() {
  for (let i = 0; i < 10; i++) await tick();
}

/** The collector: stores an event once per event_id, refuses file:// pages by index (400). */
export class Collector {
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

/** A Date whose now() steps 1 ms per call: events made in order get increasing timestamps. */
export function steppingClock(start = 1_800_000_000_000) {
  let ms = start;
  return class extends Date {
    static now() { return ++ms; }
  };
}

/** One tab: window, document, storage, fetch held until answered, beacons, manual timers. */
export function tab({ session = new Map(), local = new Map(), href = "https://shop.example/", privacy = false, dataset = {}, clock = Date } = {}) {
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
    Promise, JSON, Math, Date: clock, Object, Array, Number, String, URL,
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
    async fail(request) {
      request.reject(new TypeError("Failed to fetch"));
      await settle();
    },
    timerPending: () => timers.length > 0,
    async runTimers() {
      while (timers.length) timers.shift()();
      await settle();
    },
    hide() { document.visibilityState = "hidden"; (listeners.visibilitychange || []).forEach((fn) => fn()); },
    show() { document.visibilityState = "visible"; (listeners.visibilitychange || []).forEach((fn) => fn()); },
  };
}

