// Package cloudflare collects per-minute zone traffic from Cloudflare's
// GraphQL Analytics API (POST {api_url}/client/v4/graphql, bearer token with
// Analytics:Read) and, when no zones are configured, discovers the zones of
// an account through the REST API (GET /client/v4/zones?account.id=…).
//
// For every zone it sends one GraphQL query per window that reads two
// datasets:
//
//   - httpRequests1mGroups: exact zone-level minute rollups. They become the
//     zone's "all" location (the vendor's own total, which wins over the sum
//     of the POPs): requests, hits (cachedRequests), misses (requests −
//     cachedRequests), edge_bytes (bytes), origin_bytes (bytes − cachedBytes)
//     and status_2xx..5xx summed from responseStatusMap.
//   - httpRequestsAdaptiveGroups grouped by minute, coloCode, cacheStatus and
//     edgeResponseStatus: per-POP records with the same fields. This dataset
//     is sampled (adaptive bit rate); Cloudflare already extrapolates count
//     and sums from the sample, so the values are used as they are and
//     avg.sampleInterval is only logged.
//
// Cloudflare counts everything not served from its cache as uncached,
// including dynamic content, bypassed requests and responses generated at
// the edge (WAF blocks, redirects). So "misses" here means "not served from
// cache" and "origin_bytes" means "bytes of responses not served from cache"
// (Cloudflare's uncached bandwidth): origin_offload then equals Cloudflare's
// own "bandwidth saved". passes, origin_requests and errors are not filled:
// Cloudflare does not report them.
//
// Cloudflare reports errors inside HTTP 200 answers ("errors": [...]). Each
// zone is queried separately so one zone's error names that zone and never
// loses the others; an error on one dataset keeps the other's data.
package cloudflare
