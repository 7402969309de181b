// Package fastly collects Fastly traffic statistics.
//
// Two APIs, one mapping (map.go):
//   - Collect (cron `collect`, explicit windows, backfill and the daemon's
//     catch-up) reads the historical stats API,
//     GET /stats/service/{id}?from&to&by=minute[&region=R], once without a
//     region for Fastly's own all-regions total (location `all`, which
//     wins over the sum) and once per configured region (location = region
//     name). Per-service calls keep one service's failure from costing the
//     others.
//   - Stream (the daemon) follows the real-time API,
//     GET /v1/channel/{id}/ts/{timestamp}, one goroutine per service,
//     passing back the returned Timestamp. Each second is added into the
//     bucket of the configured resolution (per POP from `datacenter`, the
//     vendor total from `aggregated`); a bucket is emitted once the stream's
//     clock passes its end + AggregateDelay + grace. A second that arrives
//     after its bucket was emitted re-emits the whole bucket, so whisper is
//     overwritten with the full total, never a partial one.
//
// Real-time omits zero-valued fields; Fastly documents them as zero, so an
// absent field is a known 0. "No data available" comes as HTTP 200 with an
// Error text and an empty Data list: not an error.
//
// Fills: requests, hits, misses (miss), passes (pass), errors, edge_bytes
// (edge_resp_header_bytes + edge_resp_body_bytes: bytes delivered to end
// users, without shield-to-edge traffic), origin_requests (origin_fetches),
// origin_bytes (origin_fetch_resp_header_bytes + origin_fetch_resp_body_bytes:
// bytes received from origin), status_2xx..5xx. Everything derived follows.
//
// Services are the configured ones, or discovered from GET /service (RFC
// 5988 Link paging). When a service's active version changes, an event
// tagged `cdn-config fastly <service>` is posted.
package fastly
