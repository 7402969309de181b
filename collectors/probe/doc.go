// Package probe requests a URL through each CDN on a schedule ("time to
// curl" with the right Host header) and reports what a client saw: whether
// the answer was good, the time to the first byte and to the last, the
// cache verdict and the POP that answered.
//
// It emits schema.Gauges (never summed into "all"):
//
//	<prefix>.<provider>.<service>.<pop or all>.probe_ok        1 or 0
//	<prefix>.<provider>.<service>.<pop or all>.probe_ttfb_ms   request start → first response byte
//	<prefix>.<provider>.<service>.<pop or all>.probe_total_ms  request start → last body byte
//	<prefix>.<provider>.<service>.<pop or all>.probe_hit       1 or 0, only when the verdict is known
//
// stamped with the probe's start time aligned down to the step. Every probe
// opens a new connection (keep-alives off), so the times include DNS, TCP
// and TLS as curl's would, and redirects are not followed (a 301 is the
// answer). A target that fails (no answer, timeout, unexpected status)
// gives probe_ok 0 and does not stop the others; with no answer there are
// no timings, no verdict and the location is "all". Requests go out
// directly through net/http, not internal/httpx: a retry would hide
// exactly what a probe is there to see.
//
// # Cache verdict and POP
//
// The verdict is read from the first of CF-Cache-Status, X-Cache and
// X-Cache-Status that holds a known value. A header may carry several
// comma-separated values when a CDN shields (Fastly's "HIT, MISS": shield
// first, edge last): the LAST value is the edge's, the one a client got.
// Of that value the first word counts (Akamai "TCP_HIT from a23-…",
// CloudFront "Hit from cloudfront"). Values containing HIT (HIT, TCP_HIT,
// TCP_MEM_HIT, TCP_REFRESH_HIT, TCP_IMS_HIT, RefreshHit) and the
// served-from-cache states STALE, UPDATING and REVALIDATED are hits; MISS,
// TCP_MISS, TCP_REFRESH_MISS, EXPIRED, BYPASS, DYNAMIC and PASS are
// misses; anything else (NONE, Error, TCP_DENIED…) is unknown and gives no
// probe_hit.
//
// The POP is read from CF-RAY (Cloudflare, "8a1b2c3d4e5f6789-LHR" → LHR),
// X-Served-By (Fastly, "cache-iad2120-IAD, cache-lhr7324-LHR": the last,
// edge, value → LHR) or X-Amz-Cf-Pop (CloudFront, "LHR62-C1" → LHR, the
// airport code, so the several edge sites of a city share one series).
// Akamai and nginx name no POP: their probes land on "all".
package probe
