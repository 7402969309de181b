// Package gcore collects Gcore CDN resource statistics from
// GET /cdn/statistics/series (service=CDN), grouped by resource and by
// region of Gcore's edge servers, in buckets of the configured granularity
// (1m, 5m, 15m, 1h or 1d; 5m by default). Every answer is a list of
// [unix_ts, value] pairs per metric; the time is the bucket's start.
//
// Per resource, region and bucket (location = Gcore's region code: na, eu,
// cis, asia, au, latam, me, africa, sa; the pipeline sums them into "all"):
//
//   - requests = requests (requests to edge servers).
//   - hits = responses_hit, misses = responses_miss (responses with the
//     header Cache: HIT / Cache: MISS). Other cache states are in neither.
//   - status_2xx … status_5xx = responses_2xx … responses_5xx; classes
//     adding up to more than requests are all rejected (each is a subset).
//   - edge_bytes = sent_bytes, "traffic in bytes from CDN servers to
//     clients". Not total_bytes: Gcore defines it as shield_bytes +
//     upstream_bytes + sent_bytes, client traffic plus the traffic CDN
//     servers fetched, which would count a miss's bytes twice and put
//     origin_offload near 50 % on a cold cache.
//   - origin_bytes = upstream_bytes, "traffic in bytes from an origin
//     server to CDN servers or to origin shielding when used": what the
//     origin sent, so origin_offload = 1 − upstream/sent, the formula of
//     Gcore's own cache_hit_traffic_ratio.
//   - total_bytes is read only to check the two: sent_bytes +
//     upstream_bytes above total_bytes is impossible by that definition,
//     and both byte counts of that bucket are rejected.
//
// Not filled: passes, origin_requests (Gcore gives no count of origin
// fetches), errors. Buckets Gcore leaves out stay out (not zero).
package gcore
