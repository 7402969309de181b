// Package akamai collects Akamai delivery traffic through the Reporting API
// v2 (v1 reports are switched off): POST
// /reporting-api/v2/reports/delivery/traffic/current/data, signed with
// EdgeGrid (EG1-HMAC-SHA256) by Akamai's official edgegrid package from an
// .edgerc file and section, as Akamai's own tools do.
//
// Two report calls per window, both by 5-minute interval and CP code:
//   - traffic: edgeHitsSum → requests, edgeBytesSum → edge_bytes,
//     originHitsSum → origin_requests, originBytesSum → origin_bytes;
//   - by responseClass: edgeHitsSum per class → status_2xx..5xx (a class
//     absent for a row that had traffic is a known 0).
//
// Akamai cannot provide hits, misses, passes or errors: the report counts
// edge and origin hits (requests), not cache hits and misses, so hit_ratio
// is never derived for Akamai; its offload is origin_offload and
// request_offload, derived from the counts (Akamai's own
// hits/bytesOffloadedPercentage are not mapped, only cross-checked in
// tests). Service = CP code (name from config); location = all.
//
// Limits: about 20 requests a minute per client (the collector's budget),
// akamai-sync-ratelimit-* headers honoured, 429 with Retry-After retried,
// application/problem+json errors surfaced with their title and detail.
// Data lags ~15 minutes and is revised: windows end 20 minutes back and
// re-read the previous 30 minutes.
package akamai
