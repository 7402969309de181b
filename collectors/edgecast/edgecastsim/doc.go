// Package edgecastsim simulates EdgeCast's (Edgio's) real-time statistics
// API for cdnmetrics' simulator and tests: a stand-in answering bandwidth,
// connections, cache status and status codes as per-second rates of the
// traffic model's last whole minute, with TOK and OAuth client-credentials
// authentication; the [edgecast] config section pointing at it; and
// Expect, the records the collector should emit for a live window,
// computed from the model and EdgeCast's documented field meanings. It
// registers with internal/simulate from init() and does not import the
// collector.
package edgecastsim
