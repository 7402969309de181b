// Package bunny collects hourly pull-zone traffic from Bunny.net's statistics
// API (GET {api_url}/statistics?pullZone=&dateFrom=&dateTo=&hourly=true…,
// account API key in the AccessKey header) and, when no pull zones are
// configured, discovers the account's pull zones (GET {api_url}/pullzone).
//
// Bunny answers every chart as a JSON object keyed by timestamp strings
// ("2025-01-15T10:00:00Z"; some charts' keys carry no zone and are read as
// UTC, the zone Bunny's statistics use). The finest granularity is one hour,
// kept for 30 days. Per pull zone and hour it gives:
//
//   - RequestsServedChart → requests
//   - PullRequestsPulledChart → origin_requests (requests Bunny pulled from
//     the origin)
//   - BandwidthUsedChart → edge_bytes
//   - OriginTrafficChart → origin_bytes (with loadOriginTraffic=true)
//   - Error3xxChart, Error4xxChart, Error5xxChart → status_3xx..5xx (with
//     loadErrors=true)
//
// The Total* summaries are not used: they do not always add up to the
// charts. Bunny gives no cache hit or miss counts: its own CacheHitRate is
// 1 − PullRequestsPulled / RequestsServed (checked on a recorded answer), a
// request offload, and nothing in its documentation says that requests not
// pulled from the origin were cache hits (edge redirects, blocked requests
// and coalesced pulls are among them). So hits, misses and hit_ratio are
// never filled; request_offload carries Bunny's "cache hit rate".
//
// The current hour is partial: a bucket is written only once its hour has
// ended by our clock, and the last hours are re-read on every run (overlap)
// so that late log lines overwrite the first value.
package bunny
