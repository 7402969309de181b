// Package akamaisim simulates Akamai's Reporting API v2 for cdnmetrics'
// simulator and tests: a stand-in for the delivery/traffic/current report
// that verifies every request's EdgeGrid signature (the verifier is checked
// against Akamai's published test vectors), the [akamai] config section
// with an .edgerc pointing at it, and Expect, the records the collector
// should emit, computed from the traffic model. It registers with
// internal/simulate from init() and does not import the collector.
package akamaisim
