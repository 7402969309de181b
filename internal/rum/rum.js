/* cdnmetrics real-user timing: reads Navigation and Resource Timing with
   their Server-Timing entries and sends one beacon per 100 entries with
   navigator.sendBeacon. Only entries whose Server-Timing names a CDN are
   sent. <script src="https://rum.example.com/rum.js" data-service="www" async> */
(function () {
  "use strict";
  var ENDPOINT_PATH = "__PATH__", SAMPLE_RATE = __RATE__, MAX = 100;
  var me = document.currentScript;
  if (!me || !window.performance || !performance.getEntriesByType || !navigator.sendBeacon) return;
  if (Math.random() >= SAMPLE_RATE) return;
  var endpoint = new URL(ENDPOINT_PATH, me.src).href;
  var service = me.getAttribute("data-service") || "";
  var page = me.getAttribute("data-page-group") || "";
  var sent = 0;

  function desc(st) { return (st.description || "").replace(/^"|"$/g, ""); }

  // cdn;desc=<provider>, cdn-cache;desc=HIT|MISS, cdn-pop;desc=LHR;
  // CloudFront: cdn-cache-hit / cdn-cache-miss, cdn-pop, cdn-rid;
  // Cloudflare: cfCacheStatus;desc=<status>.
  function fromServerTiming(list) {
    var r = { provider: "", cache: "", pop: "" }, cf = false, cloudflare = false;
    for (var i = 0; i < list.length; i++) {
      var n = list[i].name;
      if (n === "cdn") r.provider = desc(list[i]);
      else if (n === "cdn-cache") r.cache = desc(list[i]).toUpperCase();
      else if (n === "cdn-pop") r.pop = desc(list[i]);
      else if (n === "cdn-cache-hit") { r.cache = "HIT"; cf = true; }
      else if (n === "cdn-cache-miss" || n === "cdn-cache-refresh") { r.cache = "MISS"; cf = true; }
      else if (n === "cdn-rid" || n === "cdn-upstream-layer") cf = true;
      else if (n === "cfCacheStatus") { r.cache = desc(list[i]).toUpperCase(); cloudflare = true; }
    }
    if (!r.provider && cf) r.provider = "cloudfront";
    if (!r.provider && cloudflare) r.provider = "cloudflare";
    return r;
  }

  function ms(a, b) { return (a > 0 && b >= a) ? Math.round((b - a) * 10) / 10 : undefined; }

  function entry(e) {
    if (!e.serverTiming || !e.serverTiming.length) return null;
    var st = fromServerTiming(e.serverTiming);
    if (!st.provider) return null;
    var x = { provider: st.provider, service: service, pop: st.pop, cache: st.cache,
      protocol: e.nextHopProtocol || "", page_group: page };
    if (e.domainLookupEnd > e.domainLookupStart) x.dns_ms = ms(e.domainLookupStart, e.domainLookupEnd);
    if (e.connectEnd > e.connectStart) {
      x.connect_ms = ms(e.connectStart, e.connectEnd);
      if (e.secureConnectionStart > 0) x.tls_ms = ms(e.secureConnectionStart, e.connectEnd);
    }
    if (e.requestStart > 0) x.ttfb_ms = ms(e.requestStart, e.responseStart);
    if (e.responseStart > 0) x.download_ms = ms(e.responseStart, e.responseEnd);
    var size = e.encodedBodySize || e.transferSize;
    if (size > 0) x.size = size;
    return x;
  }

  function send() {
    var all = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"));
    var out = [];
    for (; sent < all.length; sent++) {
      if (all[sent].responseEnd <= 0) break; // not finished yet: next time
      var x = entry(all[sent]);
      if (x) out.push(JSON.stringify(x));
    }
    for (var i = 0; i < out.length; i += MAX) {
      navigator.sendBeacon(endpoint, out.slice(i, i + MAX).join("\n"));
    }
  }

  function onLoad() { setTimeout(send, 0); }
  if (document.readyState === "complete") onLoad(); else addEventListener("load", onLoad);
  addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") send(); });
})();
