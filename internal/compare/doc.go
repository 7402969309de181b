// Package compare reads the CDN count series back from graphite-web's render
// API and compares the providers over one window: requests and bytes and
// their shares, hit ratio, origin offload, request offload, error ratio and
// probe time-to-first-byte percentiles, with a pass/fail verdict per
// provider against a baseline provider.
//
// Every ratio is computed from counts SUMMED over the window (per service
// and interval, only where numerator and denominator are both known), never
// from an average of per-interval ratios: an average would weigh a quiet
// night like a busy evening. Counts are summed server-side into at most
// 2000 buckets with summarize(...,'sum',true), which keeps every point
// (graphite-web's maxDataPoints consolidation drops leading points, see
// maxBuckets); whisper rolls counts up with sum
// (scripts/graphite/storage-aggregation.conf), so long windows read from
// coarse archives stay sums too.
//
// Unknown is not zero: a provider without, say, hits and misses series gets
// a null hit ratio (empty cell), never 0, and a note saying why. Gaps
// (null datapoints) are skipped; ±Inf (graphite's 1e9999) and negative
// counts are skipped and reported.
//
// Time to first byte comes from real users (internal/rum, location rum)
// when a provider has such series in the window, from the probes
// otherwise; the row says which (ttfb_source, and a note), and the
// ttfb_max_increase_pct rule judges real users against real users and
// probes against probes, never one against the other.
//
// The package talks to graphite-web only: /metrics/find to discover the
// providers, /render?format=json for the series and /render?format=png for
// the optional image. It has its own small render client (it does not use
// the test harness internal/graphitetest).
package compare
