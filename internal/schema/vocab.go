package schema

import "time"

// Namespaces under the prefix that are not providers: self-metrics, events,
// anomaly scores, failed RUM beacons (collectors/originlog) and traffic
// steering (to come). Their paths stay dotted in every tag mode, compare
// and the dashboard's provider variable skip them, and no provider may be
// named like one.
const (
	NamespaceSelf     = "cdnmetrics"
	NamespaceEvents   = "events"
	NamespaceAnomaly  = "anomaly"
	NamespaceBeacons  = "beacons"
	NamespaceSteering = "steering"
)

// Namespaces lists the first path elements under the prefix that are not
// providers.
func Namespaces() []string {
	return []string{NamespaceSelf, NamespaceEvents, NamespaceAnomaly, NamespaceBeacons, NamespaceSteering}
}

// IsNamespace reports whether name, a first path element under the prefix,
// is one of Namespaces rather than a provider.
func IsNamespace(name string) bool {
	switch name {
	case NamespaceSelf, NamespaceEvents, NamespaceAnomaly, NamespaceBeacons, NamespaceSteering:
		return true
	}
	return false
}

// Gauge metric names written by the probe collector (collectors/probe) at
// <prefix>.<provider>.<service>.<pop or all>.<metric>.
const (
	ProbeOK    = "probe_ok"       // 1 or 0
	ProbeTTFB  = "probe_ttfb_ms"  // request start → first response byte
	ProbeTotal = "probe_total_ms" // request start → last body byte
	ProbeHit   = "probe_hit"      // 1 or 0, only when the verdict is known
)

// Names used by the origin-log collector (collectors/originlog): its counts
// are the count fields (origin_requests, origin_bytes, status_*) at
// location LocationOrigin; failed RUM beacons are counted at
// <prefix>.beacons.<source>.BeaconFailures; the pipeline's reconciliation
// of origin logs against the vendors' origin_requests is the gauge
// OriginRequestsDeltaRatio.
const (
	LocationOrigin           = "origin"
	BeaconFailures           = "failures"
	OriginRequestsDeltaRatio = "origin_requests_delta_ratio"
)

// Metric names of the decision loop: a provider's share of a steered
// service's weights at <prefix>.steering.<service>.<provider>.SteeringWeight
// (collectors/steering), and the price of an interval's traffic at
// <prefix>.<provider>.<service>.all.CostMetric (internal/cost).
const (
	SteeringWeight = "weight"
	CostMetric     = "cost"
)

// Event is an annotation for graphite-web's events API: what happened, its
// tags, free text, and when (zero: now).
type Event struct {
	What string
	Tags []string
	Data string
	When time.Time
}

// Real-user timing (internal/rum): gauges at location LocationRUM (every
// country) and LocationRUMCountry(cc) per ISO 3166 alpha-2 country, under
// <prefix>.<provider>.<service>. Their names never collide with vendor
// counts; storage aggregation sums the two counts, keeps the maximum of
// the percentiles and averages the hit share.
const (
	LocationRUM        = "rum"
	RUMSamples         = "rum_samples"       // beacon entries in the minute
	RUMErrors          = "rum_errors"        // NEL failure reports in the minute
	RUMTTFBP50         = "ttfb_p50_ms"       // requestStart → responseStart
	RUMTTFBP95         = "ttfb_p95_ms"       //
	RUMConnectP50      = "connect_p50_ms"    // TCP (+TLS) connect of new connections
	RUMTLSP50          = "tls_p50_ms"        // TLS handshake of new connections
	RUMDownloadKbpsP50 = "download_kbps_p50" // transfer size / (responseEnd − responseStart)
	RUMHitShare        = "rum_hit_share"     // hits / entries with a known cache status
)

// RUMCounts are the additive RUM metrics; RUMPercentiles the sketch
// percentiles.
var (
	RUMCounts      = []string{RUMSamples, RUMErrors}
	RUMPercentiles = []string{RUMTTFBP50, RUMTTFBP95, RUMConnectP50, RUMTLSP50, RUMDownloadKbpsP50}
)

// LocationRUMCountry is the location of one country's RUM series: rum_<cc>
// with cc the lower-case ISO 3166 alpha-2 code.
func LocationRUMCountry(cc string) string { return LocationRUM + "_" + cc }
