// Package cloudflaresim simulates Cloudflare's GraphQL Analytics API for
// cdnmetrics' simulator and tests: a stand-in serving the
// httpRequests1mGroups and httpRequestsAdaptiveGroups datasets and the zone
// list from the traffic model, the [cloudflare] config section pointing at
// it, and Expect, the records the collector should emit, computed from the
// model. It registers with internal/simulate from init() and does not
// import the collector.
package cloudflaresim
