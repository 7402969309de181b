// Package gcoresim simulates Gcore's CDN API for cdnmetrics' simulator and
// tests: a stand-in for GET /cdn/resources and GET /cdn/statistics/series
// (grouped by resource and region, in Gcore's documented shapes, checking
// the APIKey Authorization header), the [gcore] config section pointing at
// it, and Expect, the records the collector should emit, computed from the
// traffic model and Gcore's documented metric meanings. It registers with
// internal/simulate from init() and does not import the collector.
package gcoresim
