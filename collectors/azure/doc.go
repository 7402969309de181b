// Package azure collects Azure Front Door Standard/Premium
// (Microsoft.Cdn/profiles) metrics from the Azure Monitor metrics API
// (api-version 2023-10-01, interval PT1M) through Azure Resource Manager,
// authenticated with OAuth 2 client credentials
// (golang.org/x/oauth2/clientcredentials, scope
// https://management.azure.com/.default; the token is cached until shortly
// before it expires and replaced when ARM refuses it).
//
// Per profile (optionally one endpoint of it, $filter Endpoint eq '<host>')
// and minute, at location "all":
//
//   - requests = RequestCount, edge_bytes = ResponseSize, origin_requests =
//     OriginRequestCount (Total).
//   - status_2xx..5xx = RequestCount split by HttpStatusGroup; a class the
//     split does not list is 0, 1XX and Others have no field.
//   - origin_bytes = edge_bytes × (100 − ByteHitRatio) / 100: Microsoft
//     defines Byte Hit Ratio as (egress from edge − egress from origin) /
//     egress from edge, and Azure Monitor has no origin byte count for Front
//     Door, so this estimate is the only origin byte figure.
//   - TotalLatency and OriginLatency (Average, ms) are the gauges
//     total_latency_ms and origin_latency_ms.
//
// With by_region, one more location per ClientRegion with requests,
// edge_bytes and status classes (ByteHitRatio and OriginRequestCount have
// no ClientRegion dimension).
//
// Not filled: hits, misses, passes (no cache-status split exists, and
// requests − origin_requests is not hits: origin requests include
// uncacheable traffic and chunked fetches of large objects), errors.
//
// Azure rejects a $filter on a dimension one of the requested metrics
// lacks, so metrics are asked for in groups that share their dimensions
// (see queries). Empty average buckets are timestamp-only objects: missing,
// not 0. Count buckets Azure has not processed yet read 0, so an empty
// minute younger than Azure's publication delay is left for the next run.
// ARM throttling is honoured: a 429's Retry-After, and a pause when
// x-ms-ratelimit-remaining-subscription-reads falls below 100.
//
// Classic Azure CDN profiles (no OriginRequestCount) and Front Door
// (classic) are out of scope.
package azure
