// Package fastlysim simulates Fastly's APIs for cdnmetrics' simulator and
// tests: a stand-in serving the paged service list, the historical stats
// (per minute, all regions and each region) and the real-time channel (per
// second and POP, long-polled) from the traffic model in Fastly's response
// shapes; the [fastly] config section pointing at it; and Expect (historical)
// and ExpectRT (real-time), the records the collector should emit, computed
// from the model and Fastly's documented field meanings. It registers with
// internal/simulate from init() and does not import the collector.
package fastlysim
