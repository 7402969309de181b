// Package fastlysim simulates Fastly's APIs for cdnmetrics' simulator and
// tests: a stand-in serving the paged service list, the historical stats
// (per minute, all regions and each region) and the real-time channel (per
// second and POP, long-polled) from the traffic model in Fastly's response
// shapes, and Origin Inspector and Domain Inspector (the entitlement API,
// both real-time feeds and their historical API with meta.next_cursor
// paging, inspect.go); the [fastly] config section pointing at it, with
// both inspectors on; and Expect (historical) and ExpectRT (real-time),
// the records the collector should emit, and ExpectInspectors /
// ExpectInspectorsRT, the inspector points it should write, computed from
// the model and Fastly's documented field meanings. It registers with
// internal/simulate from init() and does not import the collector.
package fastlysim
