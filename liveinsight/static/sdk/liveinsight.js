/*
 * LiveInsight browser SDK - plain modern JavaScript, no build step.
 *
 *   <script src="https://YOUR-API/sdk/liveinsight.js" data-endpoint="https://YOUR-API/collect"></script>
 *   liveinsight.conversion("purchase", 49.0);
 *
 * - user_id lives in localStorage (persistent), session_id in sessionStorage (one per tab),
 *   in the seed's formats: user_<ms>_<9 base36>, sess_<ms>_<last 8 of user_id>.
 * - A page_view on load, a click for links and buttons, a heartbeat every 30 s while visible.
 * - Events wait in an outbox, where each is in exactly one state: queued, or in flight with
 *   one request. A request (fetch or beacon) takes only queued events, and its answer moves only
 *   its own: acknowledged (2xx) leave; a network error, 429 or 5xx puts them back in the queue,
 *   to be re-sent with the same event_ids (so the server counts each once) after a backoff; a
 *   400 drops only the events its details name invalid and re-queues the rest.
 * - Bodies are {"events": [...], "sent_at": <ms>} (at most 100 events) as text/plain, so no CORS
 *   preflight is needed; sent_at lets the server correct a wrong client clock (SPEC 4). On page
 *   hide the queue goes out with navigator.sendBeacon.
 * - The outbox is kept in sessionStorage, so a reload sends what the last page had not.
 * - With data-respect-privacy="true", a browser that sends Global Privacy Control or Do Not
 *   Track is not tracked at all.
 * Options (data-* attributes on the script tag, or liveinsight.init({...})):
 *   endpoint, heartbeatMs (30000), flushMs (1000), batchSize (20), autoPageView (true),
 *   respectPrivacy (false).
 */
(function (global) {
  "use strict";

  var MAX_BATCH = 100;
  var MAX_RETRY_DELAY_MS = 30000;
  var OUTBOX_KEY = "li_outbox";

  function storageGet(store, key) {
    try { return global[store].getItem(key); } catch (e) { return null; }
  }
  function storageSet(store, key, value) {
    try { global[store].setItem(key, value); } catch (e) { /* private mode: keep in memory */ }
  }

  function randomBase36(length) {
    var out = "";
    while (out.length < length) out += Math.random().toString(36).slice(2);
    return out.slice(0, length);
  }

  function getUserId() {
    var id = storageGet("localStorage", "li_user_id");
    if (!id) {
      id = "user_" + Date.now() + "_" + randomBase36(9);
      storageSet("localStorage", "li_user_id", id);
    }
    return id;
  }

  function getSessionId(userId) {
    var id = storageGet("sessionStorage", "li_session_id");
    if (!id) {
      id = "sess_" + Date.now() + "_" + userId.slice(-8);
      storageSet("sessionStorage", "li_session_id", id);
    }
    return id;
  }

  function newEventId() {
    var uuid = global.crypto && global.crypto.randomUUID ? global.crypto.randomUUID().replace(/-/g, "") : randomBase36(32);
    return "evt_" + uuid.slice(0, 40);
  }

  function describe(element) {
    if (element.id) return "#" + element.id;
    var text = (element.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
    var tag = element.tagName.toLowerCase();
    return text ? tag + ":" + text : tag;
  }

  function flag(value) { return value === true || value === "true"; }

  function privacyRequested() {
    var nav = global.navigator || {};
    return nav.globalPrivacyControl === true || nav.doNotTrack === "1" || global.doNotTrack === "1";
  }

  function LiveInsight(options) {
    this.options = {
      endpoint: options.endpoint || "/collect",
      heartbeatMs: Number(options.heartbeatMs) || 30000,
      flushMs: Number(options.flushMs) || 1000,
      batchSize: Math.min(Number(options.batchSize) || 20, MAX_BATCH),
      autoPageView: options.autoPageView !== false && options.autoPageView !== "false",
      respectPrivacy: flag(options.respectPrivacy),
    };
    this.disabled = this.options.respectPrivacy && privacyRequested();
    this.userId = getUserId();
    this.sessionId = getSessionId(this.userId);
    this.queue = [];        // queued: not in any request
    this.inFlight = {};     // request id -> the events that request carries
    this.nextRequest = 1;
    this.retryDelay = 0;
    this.sent = 0;          // events acknowledged by the server
    this.beaconed = 0;      // events handed to sendBeacon (delivered after unload, unconfirmed)
    this.dropped = [];      // events a 400 named invalid, with the server's reason
    this.acknowledged = [];
    this._timer = null;
    this._restore();
    this._install();
  }

  LiveInsight.prototype.track = function (eventType, properties) {
    if (this.disabled) return null;
    var event = {
      event_id: newEventId(),
      event_type: eventType,
      user_id: this.userId,
      session_id: this.sessionId,
      page_url: global.location.href,
      timestamp: Date.now(),
    };
    if (document.referrer) event.referrer = document.referrer;
    if (properties && Object.keys(properties).length) event.properties = properties;
    this.queue.push(event);
    this._save();
    if (this.queue.length >= this.options.batchSize) this.flush();
    else this._schedule(this.options.flushMs);
    return event.event_id;
  };

  LiveInsight.prototype.pageView = function () { return this.track("page_view"); };

  LiveInsight.prototype.conversion = function (name, value) {
    var properties = { name: String(name) };
    if (typeof value === "number" && isFinite(value)) properties.value = value;
    return this.track("conversion", properties);
  };

  LiveInsight.prototype.heartbeat = function () { return this.track("heartbeat"); };

  /* Events not yet acknowledged: queued and in flight, oldest first. */
  LiveInsight.prototype.pending = function () {
    var all = this.queue.slice();
    for (var id in this.inFlight) all = all.concat(this.inFlight[id]);
    return all.sort(function (a, b) { return a.timestamp - b.timestamp; });
  };

  LiveInsight.prototype._schedule = function (delayMs) {
    var self = this;
    if (this._timer) return;
    this._timer = setTimeout(function () { self._timer = null; self.flush(); }, delayMs);
  };

  /* Take up to MAX_BATCH queued events into request ``id`` (they leave the queue). */
  LiveInsight.prototype._take = function () {
    var id = this.nextRequest++;
    this.inFlight[id] = this.queue.splice(0, MAX_BATCH);
    return id;
  };

  LiveInsight.prototype._body = function (events) {
    return JSON.stringify({ events: events, sent_at: Date.now() });
  };

  /* Request ``id`` is over: its events leave (acknowledged or dropped) or go back in the queue. */
  LiveInsight.prototype._settle = function (id, requeue) {
    var events = this.inFlight[id] || [];
    delete this.inFlight[id];
    if (requeue.length) {
      this.queue = requeue.concat(this.queue).sort(function (a, b) { return a.timestamp - b.timestamp; });
    }
    this._save();
    return events;
  };

  /* Post the queued events (one request per 100); resolves when their answers are handled. */
  LiveInsight.prototype.flush = function () {
    var requests = [];
    while (this.queue.length) requests.push(this._post(this._take()));
    return Promise.all(requests);
  };

  LiveInsight.prototype._post = function (id) {
    var self = this;
    var events = this.inFlight[id];
    return fetch(this.options.endpoint, {
      method: "POST",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: this._body(events),
      keepalive: true,
      credentials: "omit",
    }).then(function (response) {
      if (response.ok) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          self._settle(id, []);
          self.sent += events.length;
          self.retryDelay = 0;
          self.acknowledged = self.acknowledged.concat(body.results || []);
        });
      }
      if (response.status === 400) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          self._rejected(id, events, body);
        });
      }
      throw new Error("retryable " + response.status);  // 429, 5xx, or a gateway in the way
    }).catch(function () {
      // Network error or an answer that is not final: the same events (same ids) go back.
      if (!(id in self.inFlight)) return;  // already settled: nothing of its own is left
      self._settle(id, events);
      self.retryDelay = Math.min(self.retryDelay ? self.retryDelay * 2 : 500, MAX_RETRY_DELAY_MS);
    }).then(function () {
      if (self.queue.length) self._schedule(self.retryDelay || 0);
    });
  };

  /* A 400 is all or nothing on the server: nothing of the body was stored. Drop the events its
     details name by index (the server will never take them) and re-send the others. */
  LiveInsight.prototype._rejected = function (id, events, body) {
    var invalid = {};
    var named = false;
    (body.details || []).forEach(function (detail) {
      if (typeof detail.index === "number" && detail.index >= 0 && detail.index < events.length) {
        invalid[detail.index] = (invalid[detail.index] || []).concat(detail.field + " " + detail.problem);
        named = true;
      }
    });
    var keep = [];
    var self = this;
    events.forEach(function (event, index) {
      if (!named || invalid[index]) self.dropped.push({ event: event, reasons: invalid[index] || [body.message || "rejected"] });
      else keep.push(event);
    });
    if (this.dropped.length && typeof console !== "undefined") {
      console.warn("liveinsight: events rejected", body.message || "", invalid);
    }
    this._settle(id, keep);
    this.retryDelay = 0;
  };

  /* On page hide: hand everything queued to the browser, which delivers it after unload.
     Events in flight stay with their own requests. */
  LiveInsight.prototype.beacon = function () {
    if (!this.queue.length || !global.navigator || !navigator.sendBeacon) return false;
    var handed = false;
    while (this.queue.length) {
      var batch = this.queue.slice(0, MAX_BATCH);
      var blob = new Blob([this._body(batch)], { type: "text/plain;charset=UTF-8" });
      if (!navigator.sendBeacon(this.options.endpoint, blob)) break;  // too big or refused: keep
      this.queue.splice(0, batch.length);
      this.beaconed += batch.length;
      handed = true;
    }
    this._save();
    return handed;
  };

  /* The outbox in sessionStorage: queued and in-flight events, so a reload sends them. */
  LiveInsight.prototype._save = function () {
    storageSet("sessionStorage", OUTBOX_KEY, JSON.stringify(this.pending()));
  };

  LiveInsight.prototype._restore = function () {
    var saved;
    try { saved = JSON.parse(storageGet("sessionStorage", OUTBOX_KEY) || "[]"); } catch (e) { saved = []; }
    if (Array.isArray(saved) && saved.length) {
      this.queue = saved.filter(function (e) { return e && typeof e.event_id === "string"; });
      this._schedule(0);
    }
  };

  LiveInsight.prototype._install = function () {
    var self = this;
    document.addEventListener("click", function (e) {
      var target = e.target && e.target.closest ? e.target.closest("a, button") : null;
      if (!target) return;
      self.track("click", { target: describe(target) });
      // A link click is about to unload the page: post now, with keepalive, rather than later.
      if (target.tagName === "A" && target.href) self.flush();
    }, true);
    setInterval(function () {
      if (document.visibilityState === "visible") self.heartbeat();
    }, this.options.heartbeatMs);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") self.beacon();
    });
    global.addEventListener("pagehide", function () { self.beacon(); });
    if (this.options.autoPageView) this.pageView();
  };

  function optionsFromScript() {
    var script = document.currentScript;
    if (!script) return {};
    var data = script.dataset || {};
    var options = {};
    ["endpoint", "heartbeatMs", "flushMs", "batchSize", "autoPageView", "respectPrivacy"].forEach(function (key) {
      if (data[key] !== undefined) options[key] = data[key];
    });
    if (!options.endpoint && script.src) options.endpoint = new URL("../collect", script.src).href;
    return options;
  }

  var options = optionsFromScript();
  global.liveinsight = new LiveInsight(options);
  global.liveinsight.init = function (opts) { return new LiveInsight(opts || {}); };
})(window);
