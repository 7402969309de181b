// Package rum is the daemon's real-user timing endpoint: POST <path>
// takes beacons (a JSON array or newline-delimited JSON, one entry per page
// or resource) sent by GET /rum.js from the users' browsers, and Network
// Error Logging reports (application/reports+json); Aggregator folds them
// per minute, provider, service and country into counts and DDSketch
// percentiles, and emits them as gauges at
// <prefix>.<provider>.<service>.rum.<metric> (all countries) and
// .rum_<cc>.<metric> (one ISO 3166 alpha-2 country).
//
// Everything in a beacon is attacker-controlled. No value it holds can
// create a series: providers and services come from allow-lists (anything
// else is "other"), countries only from the front proxy's header and only
// as assigned ISO codes, POP values are capped per provider. Bodies,
// entries per beacon and beacons per client IP and second are capped,
// origins must be allowed (CORS), timings outside 0–120000 ms are dropped.
// Every drop is counted in <prefix>.cdnmetrics.rum.<counter> and logged
// at most once a minute per reason. Answers carry no body: nothing the
// sender wrote is echoed back.
package rum
