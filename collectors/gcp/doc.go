// Package gcp collects Google Cloud CDN metrics from Cloud Monitoring
// (projects.timeSeries.list) on the external Application Load Balancer
// that Cloud CDN sits in: loadbalancing.googleapis.com/https/request_count,
// response_bytes_count, backend_request_count and
// backend_response_bytes_count on the monitored resource https_lb_rule,
// aligned with ALIGN_DELTA at 60 s and summed (REDUCE_SUM) per url map,
// cache_result, response_code_class and proxy_continent. It authenticates
// with golang.org/x/oauth2/google: a service-account JSON key (its
// token_uri honoured) or Application Default Credentials, scope
// monitoring.read.
//
// A service is a url map (resource label url_map_name). Locations are
// "all" (every continent) and one per proxy_continent: Google publishes
// no figure per POP. Per url map and minute (the point's interval start):
//
//   - requests = request_count; edge_bytes = response_bytes_count.
//   - hits = request_count with cache_result HIT or PARTIAL_HIT (the
//     response came out of the cache, part of it for a partial hit);
//     misses = MISS; passes = DISABLED (Cloud CDN not consulted). UNKNOWN
//     counts in requests only.
//   - status_2xx…5xx from response_code_class 200…500 (100 and 0 count in
//     requests only).
//   - origin_requests = backend_request_count and origin_bytes =
//     backend_response_bytes_count, both without cache_result HIT: Google
//     abstracts cache hits as backend requests labelled HIT, which never
//     reached an origin.
//
// Missing minutes are absent in Cloud Monitoring and stay absent; within
// a minute a metric has points for, a group without a point (no 5xx
// series) is zero, since the groups partition the metric. Not filled:
// errors (no vendor-side error class beyond status). Media CDN
// (edgecache.googleapis.com) is a different product and not read.
package gcp
