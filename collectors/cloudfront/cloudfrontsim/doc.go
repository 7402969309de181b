// Package cloudfrontsim simulates CloudWatch's GetMetricData for CloudFront
// distributions, for cdnmetrics' simulator and tests: a stand-in speaking
// the SDK's RPC v2 CBOR protocol that checks every request's SigV4
// signature and pages long windows, the [cloudfront] config section
// pointing at it, and Expect, the records the collector should emit,
// computed from the traffic model. It registers with internal/simulate from
// init() and does not import the collector.
package cloudfrontsim
