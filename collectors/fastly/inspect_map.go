package fastly

import (
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// This file is the only place that knows the field names of Fastly's
// Origin Inspector and Domain Inspector feeds (documented in Fastly's API
// reference; fastly-exporter's pkg/origin and pkg/domain model the same
// JSON). Both feeds nest one more level than the channel stream: a POP (or
// the aggregate) holds an object per origin or domain, and that object
// holds the measurements.

// ifield indexes the inspector fields cdnmetrics reads, of both feeds.
type ifield uint8

const (
	// Origin Inspector: responses from each origin (backend).
	iResponses ifield = iota
	iRespHeaderBytes
	iRespBodyBytes
	iOStatus2xx
	iOStatus3xx
	iOStatus4xx
	iOStatus5xx
	iLatency0 // first of the numLatency latency buckets, in latencyBounds order

	// Domain Inspector: traffic of each domain (hostname).
	iDRequests            = iLatency0 + numLatency
	iDEdgeRespHeaderBytes = iDRequests + 1
	iDEdgeRespBodyBytes   = iDRequests + 2
	iDEdgeHitRequests     = iDRequests + 3
	iDEdgeMissRequests    = iDRequests + 4
	numIFields            = iDRequests + 5
)

// numLatency is the number of Origin Inspector latency buckets.
const numLatency = 12

// latencyBounds are the buckets' lower bounds in ms; each bucket ends
// where the next begins, the last (latency_60000ms) is open-ended.
var latencyBounds = [numLatency]float64{0, 1, 5, 10, 50, 100, 250, 500, 1000, 5000, 10000, 60000}

// latencyNames are the Fastly names of the buckets; cdnmetrics writes the
// bucket counts under the same names.
var latencyNames = [numLatency]string{
	"latency_0_to_1ms", "latency_1_to_5ms", "latency_5_to_10ms", "latency_10_to_50ms",
	"latency_50_to_100ms", "latency_100_to_250ms", "latency_250_to_500ms", "latency_500_to_1000ms",
	"latency_1000_to_5000ms", "latency_5000_to_10000ms", "latency_10000_to_60000ms", "latency_60000ms",
}

// lookupOrigin maps an Origin Inspector measurement name to a field; -1
// when cdnmetrics ignores it (per-code statuses, WAF and Compute splits).
func lookupOrigin(key []byte) int {
	switch string(key) {
	case "responses":
		return int(iResponses)
	case "resp_header_bytes":
		return int(iRespHeaderBytes)
	case "resp_body_bytes":
		return int(iRespBodyBytes)
	case "status_2xx":
		return int(iOStatus2xx)
	case "status_3xx":
		return int(iOStatus3xx)
	case "status_4xx":
		return int(iOStatus4xx)
	case "status_5xx":
		return int(iOStatus5xx)
	case "latency_0_to_1ms":
		return int(iLatency0)
	case "latency_1_to_5ms":
		return int(iLatency0 + 1)
	case "latency_5_to_10ms":
		return int(iLatency0 + 2)
	case "latency_10_to_50ms":
		return int(iLatency0 + 3)
	case "latency_50_to_100ms":
		return int(iLatency0 + 4)
	case "latency_100_to_250ms":
		return int(iLatency0 + 5)
	case "latency_250_to_500ms":
		return int(iLatency0 + 6)
	case "latency_500_to_1000ms":
		return int(iLatency0 + 7)
	case "latency_1000_to_5000ms":
		return int(iLatency0 + 8)
	case "latency_5000_to_10000ms":
		return int(iLatency0 + 9)
	case "latency_10000_to_60000ms":
		return int(iLatency0 + 10)
	case "latency_60000ms":
		return int(iLatency0 + 11)
	}
	return -1
}

// lookupDomain maps a Domain Inspector measurement name to a field.
// edge_resp_* are the bytes delivered to end users, as edge_bytes means in
// the unified schema (see map.go); bandwidth would add the requests sent
// to origin.
func lookupDomain(key []byte) int {
	switch string(key) {
	case "requests":
		return int(iDRequests)
	case "edge_resp_header_bytes":
		return int(iDEdgeRespHeaderBytes)
	case "edge_resp_body_bytes":
		return int(iDEdgeRespBodyBytes)
	case "edge_hit_requests":
		return int(iDEdgeHitRequests)
	case "edge_miss_requests":
		return int(iDEdgeMissRequests)
	}
	return -1
}

// Metric names written under …origins.<origin>. and …domains.<domain>.
const (
	MetricResponses  = "responses"        // origin: responses received from it
	MetricOriginByte = "origin_bytes"     // origin: header + body bytes received from it
	MetricLatencyP50 = "latency_p50_ms"   // origin: median response latency, from the buckets
	MetricLatencyP95 = "latency_p95_ms"   // origin: 95th percentile, from the buckets
	MetricDomainReq  = "requests"         // domain: requests
	MetricDomainEdge = "edge_bytes"       // domain: header + body bytes delivered to end users
	MetricDomainHits = "hits"             // domain: edge hits
	MetricDomainMiss = "misses"           // domain: edge misses
	MetricDomainHR   = schema.HitRatio    // domain: hits / (hits + misses) of the summed counts
	feedOrigins      = "origins"          // path node and URL element of the origin feed
	feedDomains      = "domains"          // path node and URL element of the domain feed
	productOrigin    = "origin_inspector" // Fastly's product id
	productDomain    = "domain_inspector"
)

// ivals is one origin's or domain's measurements: summed values and which
// were seen. The inspector feeds omit zero-valued fields (fastly-exporter
// reads an absent field as 0, and Fastly documents the historical values
// as sparse: "only the keys with non-zero values"), so an absent field is a
// known zero, as in the channel stream.
type ivals struct {
	v   [numIFields]float64
	bad string // a structural problem that disqualifies the entry
}

// add sums o into v. A value that is not a possible count (negative, NaN,
// ±Inf) poisons the field (NaN), which the points then leave out, so a
// wrong value never becomes a plausible wrong total.
func (v *ivals) add(o *ivals) {
	for i, x := range o.v {
		// Raw points are only checked for finiteness downstream: a
		// count beyond schema.MaxCount must be poisoned here.
		if impossible(x) || x > schema.MaxCount {
			x = math.NaN()
		}
		v.v[i] += x
	}
}

// quantile derives the q-quantile (0 < q < 1) of the latency buckets of v
// in ms, by linear interpolation inside the bucket that holds the rank
// q × total (the rule Prometheus' histogram_quantile uses): the buckets are
// counts, so merging POPs and seconds is exact before the quantile is
// taken, and a percentile is never averaged. In the open-ended last bucket
// the quantile is its lower bound, 60000. Not ok without responses or when
// a bucket is unknown.
func (v *ivals) quantile(q float64) (float64, bool) {
	total := 0.0
	for i := range numLatency {
		c := v.v[int(iLatency0)+i]
		if math.IsNaN(c) {
			return 0, false
		}
		total += c
	}
	if !(total > 0) {
		return 0, false
	}
	rank := q * total
	cum := 0.0
	for i := range numLatency {
		c := v.v[int(iLatency0)+i]
		if c > 0 && cum+c >= rank {
			if i == numLatency-1 {
				return latencyBounds[i], true
			}
			lo, hi := latencyBounds[i], latencyBounds[i+1]
			return lo + (hi-lo)*(rank-cum)/c, true
		}
		cum += c
	}
	return latencyBounds[numLatency-1], true
}

// metrics calls emit with every metric of one origin or domain entry. A
// count poisoned by an impossible vendor value is emitted as NaN on
// purpose: the pipeline's value check rejects it, logs it and counts it
// in rejected_values, so nothing is dropped silently. A percentile or
// ratio whose inputs are not all known is not emitted.
func (v *ivals) metrics(feed string, emit func(metric string, value float64)) {
	put := emit
	if feed == feedOrigins {
		put(MetricResponses, v.v[iResponses])
		put(MetricOriginByte, v.v[iRespHeaderBytes]+v.v[iRespBodyBytes])
		for i, f := range [...]ifield{iOStatus2xx, iOStatus3xx, iOStatus4xx, iOStatus5xx} {
			put("status_"+strconv.Itoa(i+2)+"xx", v.v[f])
		}
		for i := range numLatency {
			put(latencyNames[i], v.v[int(iLatency0)+i])
		}
		if p, ok := v.quantile(0.50); ok {
			emit(MetricLatencyP50, p)
		}
		if p, ok := v.quantile(0.95); ok {
			emit(MetricLatencyP95, p)
		}
		return
	}
	put(MetricDomainReq, v.v[iDRequests])
	put(MetricDomainEdge, v.v[iDEdgeRespHeaderBytes]+v.v[iDEdgeRespBodyBytes])
	put(MetricDomainHits, v.v[iDEdgeHitRequests])
	put(MetricDomainMiss, v.v[iDEdgeMissRequests])
	if r, ok := schema.HitRatioOf(v.v[iDEdgeHitRequests], v.v[iDEdgeMissRequests]); ok && !math.IsNaN(r) {
		emit(MetricDomainHR, r)
	}
}

// maxNodeLen bounds a sanitised origin or domain path node: whisper keeps
// one file per series, named by its last node, and file names stop at 255
// bytes. A longer name keeps its first bytes and gets a hash of the whole
// name, so two long names that share a beginning stay apart.
const maxNodeLen = 100

// inspectNode turns an origin or domain name from Fastly (outside input:
// a backend's host or a Host header's domain, so possibly hostile) into one
// safe Graphite path node: schema.Sanitize (lower case, [a-z0-9_-] only,
// so no dot, space, slash, semicolon or control byte can add a level or
// a tag), then bounded in length.
func inspectNode(name []byte) string {
	s := schema.Sanitize(string(name))
	if len(s) <= maxNodeLen {
		return s
	}
	h := fnv.New64a()
	h.Write(name)
	return s[:maxNodeLen-17] + "_" + strconv.FormatUint(h.Sum64(), 16)
}

// inspectPOP is the location of a POP code: a safe node like a name, and
// one named like a reserved location ("ALL" would otherwise be folded into
// Fastly's aggregate a second time) gets a prefix.
func inspectPOP(code []byte) string {
	loc, _ := inspectPOPRenamed(code)
	return loc
}

// inspectPOPRenamed is inspectPOP, and whether the code was named like a
// reserved location and got the prefix: callers warn about and count such
// a rename once per code (inspectAgg.pop for the real-time feeds,
// reportHistRenamed for the historical queries).
func inspectPOPRenamed(code []byte) (loc string, renamed bool) {
	s := inspectNode(code)
	if reservedLocation(s) {
		return "pop_" + s, true
	}
	return s, false
}

// reservedLocation reports whether the path node s is one of our own
// locations, which a POP must not be written under.
func reservedLocation(s string) bool {
	return s == schema.LocationAll || s == schema.LocationOrigin || s == schema.LocationRUM || strings.HasPrefix(s, schema.LocationRUM+"_")
}

// InspectorFeeds are the path nodes of the inspector feeds, below the
// location: <prefix>.fastly.<service>.<location>.<feed>.<name>.<metric>.
var InspectorFeeds = []string{feedOrigins, feedDomains}

// InspectorMetrics lists every metric written under one origin
// (feed "origins") or domain (feed "domains"), in the order written. The
// storage-aggregation rules are checked against it.
func InspectorMetrics(feed string) []string {
	var v ivals
	for i := range v.v {
		v.v[i] = 1
	}
	var out []string
	v.metrics(feed, func(m string, _ float64) { out = append(out, m) })
	return out
}
