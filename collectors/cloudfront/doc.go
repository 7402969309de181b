// Package cloudfront collects Amazon CloudFront distribution metrics from
// CloudWatch GetMetricData (namespace AWS/CloudFront, region us-east-1,
// dimensions DistributionId and Region=Global, period 60 s) through
// aws-sdk-go-v2, which speaks the Smithy RPC v2 CBOR protocol.
//
// CloudFront reports one total per distribution, so every record has the
// location "all" (the vendor's own total). Per minute:
//
//   - requests = Requests (Sum); edge_bytes = BytesDownloaded (Sum).
//   - status_4xx, status_5xx = round(rate / 100 × requests) from
//     4xxErrorRate and 5xxErrorRate (Average, percent of all requests), so
//     they stay additive counts.
//   - hits = round(CacheHitRate / 100 × requests) and misses = requests −
//     hits, when the distribution has additional metrics turned on.
//     CloudFront's denominator is the cacheable requests, which it does not
//     publish; scaling by all requests keeps the derived hit_ratio equal to
//     CloudFront's own CacheHitRate, at the price of hits/misses being
//     estimates ("misses" = not served from cache).
//   - OriginLatency (Average, ms; additional metrics) is not a count: it is
//     emitted as the gauge origin_latency_ms.
//
// Not filled: passes, origin_requests and origin_bytes (CloudFront does not
// publish origin traffic in CloudWatch), status_2xx/3xx (only error rates
// exist), errors (TotalErrorRate is 4xx+5xx, not Fastly-style errors).
// BytesUploaded (viewer uploads to origin) has no unified field and is not
// read. Missing minutes are absent in CloudWatch and stay absent here; a
// rate without the same minute's Requests cannot become a count and is
// dropped.
package cloudfront
