// Package fastly collects Fastly traffic counts into the unified schema.
//
// It talks to two Fastly APIs and maps both with one table (map.go, the
// only place that knows Fastly's field names):
//
//   - Collect — used by `collect`, `collect --from/--to`, backfill and the
//     daemon's catch-up — reads the historical stats API, GET
//     {api_url}/stats/service/{id}?by=minute&from&to, once without a region
//     (Fastly's own all-regions total, emitted as location `all`, which
//     wins over the sum) and once per configured region (location = the
//     region name: usa, europe, asia, asia_india, asia_southkorea, anzac,
//     southamerica_std, africa_std, mexico). Why per service and region:
//     the /stats endpoint that answers for every service at once would make
//     one request instead of S×(1+R), but one failure would lose every
//     service, its answer grows with every service of the account (a 6 h
//     backfill of hundreds of services is tens of MB), and it needs a token
//     for the whole account. Per-service calls keep one service's failure to
//     itself (the error names it) and work with tokens limited to some
//     services. Services are read one after the other by default
//     (`concurrency` raises that for accounts with many services); GET
//     requests are not counted against Fastly's hourly API limit, and the
//     client honours Fastly-RateLimit-Remaining/-Reset and 429s anyway.
//     Fastly publishes a minute "usually two minutes after the end of the
//     minute, but [it] can take up to 15 minutes": delay 5 min, overlap
//     15 min (every minute is re-read until 20 min old), lookback 1 h, at
//     most 6 h per call. An empty answer for a window less than 15 min old
//     is ErrNoData (not published yet); for an older window it is simply
//     nothing to emit.
//   - Stream — the daemon — follows the real-time API with one goroutine per
//     service: GET {rt_url}/v1/channel/{id}/ts/{ts}, starting at ts 0 and
//     then always passing back the Timestamp Fastly returned. Each record is
//     one second; it is added into the bucket of `resolution` (start aligned
//     down), per POP from `datacenter` and Fastly's total from `aggregated`.
//     A bucket is emitted whole once Fastly's clock (the response Timestamp,
//     which is Fastly's "now", so our own clock's skew does not matter) has
//     passed its end + AggregateDelay + 2 s. A second that arrives after its
//     bucket was emitted re-emits the whole bucket, so Graphite is
//     overwritten with the corrected total, never a partial one; emitted
//     buckets are kept for 2 minutes (3 to 30 buckets) for that. The bucket
//     the subscription starts in is incomplete (ts 0 starts at the newest
//     second) and is not emitted. Memory is the open buckets and those few
//     emitted ones, however long the stream runs. "No data available" comes
//     as HTTP 200 with an Error text and no Data: not an error, the
//     Timestamp is kept. No Fastly time is trusted beyond our own clock:
//     a second recorded more than clock_skew_tolerance (5 min) ahead of it
//     is left out, and such a Timestamp neither moves Fastly's clock nor is
//     passed back (the next poll asks from our clock); both are logged once
//     per answer and counted in rejected_future. 401/403 are logged once
//     and retried every 2 min; other failures back off exponentially (1 s
//     to 1 min) with jitter.
//
// The real-time decoder (decode.go, over the JSON scanner in scan.go) is a
// single pass over the bytes that reads only the mapped fields and
// allocates nothing in steady state (BenchmarkRTDecodeAggregate; ~0.5 ms
// for a 100-POP × 150-field response).
//
// Fills: requests, hits, misses (miss), passes (pass), errors, edge_bytes
// (edge_resp_header_bytes + edge_resp_body_bytes), origin_requests
// (origin_fetches), origin_bytes (origin_fetch_resp_header_bytes +
// origin_fetch_resp_body_bytes), status_2xx..5xx; all derived metrics
// follow. Real-time omits zero-valued fields and Fastly documents them as
// counts, so an absent real-time field is a known 0; a field missing from a
// historical row (which normally carries all of them) is unknown. Fastly's
// own hit_ratio is ignored (it may be null): the schema derives ratios from
// the counts. Not filled: nothing of the unified counts is missing.
//
// Origin Inspector and Domain Inspector (origin_inspector,
// domain_inspector; inspect_*.go) add per-origin and per-domain series
// below a location: <prefix>.fastly.<service>.<location>.origins.<origin>.*
// and ….domains.<domain>.*, location `all` unless inspectors_per_pop. They
// are written as ready-made points (not unified records: an origin is not a
// location), so the pipeline's `all` derivation and aggregate_only do not
// apply to them. Which services have a product is asked of Fastly's
// entitlement API (GET /entitled-products/{product}, the check
// fastly-exporter makes; account-wide, kept 10 min), logged once per
// service; a feed a service lacks is never requested. Stream runs one
// subscriber per service and feed on GET {rt_url}/v1/{origins|domains}/{id}/ts/{ts}
// with the channel's rules (inspectAgg mirrors aggregator), through the
// same scanner (decodeInspect); Collect reads GET
// {api_url}/metrics/{origins|domains}/services/{id}?downsample=minute,
// following meta.next_cursor. Latency p50/p95 come from the bucket counts
// merged over POPs and seconds, never from averaged percentiles; origin and
// domain names are sanitised into one bounded path node each.
//
// Services are the configured ones, or discovered from GET /service (RFC
// 5988 Link paging, only ever followed on api_url's host). Discovery is
// refreshed every 10 minutes; when a service's active version changes, a
// cdn-config event "fastly <service>: version N → M" is posted.
package fastly
