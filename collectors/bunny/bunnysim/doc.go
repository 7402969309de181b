// Package bunnysim simulates Bunny.net's core API for cdnmetrics' simulator
// and tests: GET /pullzone (the account's pull zones, one per model service)
// and GET /statistics (hourly charts keyed by timestamp strings, the current
// hour partial, errors and origin traffic only when their load flags are
// set), both checking the AccessKey header; the [bunny] config section
// pointing at it; and Expect, the records the collector should emit,
// computed from the traffic model and Bunny's documented chart meanings. It
// registers with internal/simulate from init() and does not import the
// collector.
package bunnysim
