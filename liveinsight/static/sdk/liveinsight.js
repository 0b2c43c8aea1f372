/*
 * LiveInsight browser SDK - plain modern JavaScript, no build step.
 *
 *   <script src="https://YOUR-API/sdk/liveinsight.js" data-endpoint="https://YOUR-API/collect"></script>
 *   liveinsight.conversion("purchase", 49.0);
 *
 * - user_id lives in localStorage (persistent), session_id in sessionStorage (one per tab),
 *   in the seed's formats: user_<ms>_<9 base36>, sess_<ms>_<last 8 of user_id>.
 * - A page_view on load, a click for links and buttons, a heartbeat every 30 s while visible.
 * - Events are queued and posted in batches ({"events": [...]}, at most 100) as text/plain, so
 *   no CORS preflight is needed; on page hide the queue goes out with navigator.sendBeacon.
 * - Every event carries a client event_id: a failed post (network error or 5xx) is retried
 *   with the same ids and exponential backoff, so the server counts each event once.
 * Options (data-* attributes on the script tag, or liveinsight.init({...})):
 *   endpoint, heartbeatMs (30000), flushMs (1000), batchSize (20), autoPageView (true).
 */
(function (global) {
  "use strict";

  var MAX_BATCH = 100;
  var MAX_RETRY_DELAY_MS = 30000;

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

  function LiveInsight(options) {
    this.options = {
      endpoint: options.endpoint || "/collect",
      heartbeatMs: Number(options.heartbeatMs) || 30000,
      flushMs: Number(options.flushMs) || 1000,
      batchSize: Math.min(Number(options.batchSize) || 20, MAX_BATCH),
      autoPageView: options.autoPageView !== false && options.autoPageView !== "false",
    };
    this.userId = getUserId();
    this.sessionId = getSessionId(this.userId);
    this.queue = [];
    this.inFlight = null;
    this.retryDelay = 0;
    this.sent = 0;
    this.acknowledged = [];
    this._timer = null;
    this._install();
  }

  LiveInsight.prototype.track = function (eventType, properties) {
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

  LiveInsight.prototype._schedule = function (delayMs) {
    var self = this;
    if (this._timer) return;
    this._timer = setTimeout(function () { self._timer = null; self.flush(); }, delayMs);
  };

  /* Post the next batch; resolves when the queue is empty or a retry is scheduled. */
  LiveInsight.prototype.flush = function () {
    var self = this;
    if (this.inFlight || !this.queue.length) return this.inFlight || Promise.resolve();
    var batch = this.queue.slice(0, MAX_BATCH);
    this.inFlight = fetch(this.options.endpoint, {
      method: "POST",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify({ events: batch }),
      keepalive: true,
      credentials: "omit",
    }).then(function (response) {
      if (response.status >= 500 || response.status === 429) throw new Error("retryable " + response.status);
      // 2xx: acknowledged; 4xx: the server will never take these, so drop them (and say why).
      self.queue.splice(0, batch.length);
      self.retryDelay = 0;
      if (response.ok) {
        self.sent += batch.length;
        return response.json().then(function (body) { self.acknowledged = self.acknowledged.concat(body.results || []); });
      }
      return response.text().then(function (text) { console.warn("liveinsight: events rejected", response.status, text); });
    }).catch(function () {
      // Network error or 5xx: keep the same events (same event_ids) and back off.
      self.retryDelay = Math.min(self.retryDelay ? self.retryDelay * 2 : 500, MAX_RETRY_DELAY_MS);
    }).then(function () {
      self.inFlight = null;
      if (self.queue.length) self._schedule(self.retryDelay || 0);
    });
    return this.inFlight;
  };

  /* On page hide: hand everything queued to the browser, which delivers it after unload. */
  LiveInsight.prototype.beacon = function () {
    if (!this.queue.length || !navigator.sendBeacon) return false;
    var batch = this.queue.slice(0, MAX_BATCH);
    var blob = new Blob([JSON.stringify({ events: batch })], { type: "text/plain;charset=UTF-8" });
    if (navigator.sendBeacon(this.options.endpoint, blob)) {
      this.queue.splice(0, batch.length);
      return true;
    }
    return false;
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
    ["endpoint", "heartbeatMs", "flushMs", "batchSize", "autoPageView"].forEach(function (key) {
      if (data[key] !== undefined) options[key] = data[key];
    });
    if (!options.endpoint && script.src) options.endpoint = new URL("../collect", script.src).href;
    return options;
  }

  var options = optionsFromScript();
  global.liveinsight = new LiveInsight(options);
  global.liveinsight.init = function (opts) { return new LiveInsight(opts || {}); };
})(window);
