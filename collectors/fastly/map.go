package fastly

import (
	"fmt"
	"math"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// This file is the only place that knows Fastly's measurement field names.
// The real-time measurements and the historical stats rows use the same
// names for everything cdnmetrics reads, so one table serves both.

// vfield indexes the Fastly fields cdnmetrics reads.
type vfield uint8

const (
	vRequests vfield = iota
	vHits
	vMiss
	vPass
	vErrors
	vEdgeRespHeaderBytes
	vEdgeRespBodyBytes
	vOriginFetches
	vOriginFetchRespHeaderBytes
	vOriginFetchRespBodyBytes
	vStatus2xx
	vStatus3xx
	vStatus4xx
	vStatus5xx
	numVFields
)

// vendorNames are the Fastly names of the fields, as they appear in both
// APIs' JSON.
var vendorNames = [numVFields]string{
	vRequests: "requests",
	vHits:     "hits",
	vMiss:     "miss",
	vPass:     "pass",
	vErrors:   "errors",
	// Edge bytes: Fastly documents resp_header_bytes/resp_body_bytes as
	// "edge_resp_* + shield_resp_*", i.e. they also count bytes a shield POP
	// sends to an edge POP inside Fastly. edge_resp_header_bytes and
	// edge_resp_body_bytes are "delivered from Fastly to the end user" —
	// exactly the unified edge_bytes (bytes sent to clients).
	vEdgeRespHeaderBytes: "edge_resp_header_bytes",
	vEdgeRespBodyBytes:   "edge_resp_body_bytes",
	vOriginFetches:       "origin_fetches",
	// Origin bytes: origin_fetch_header_bytes/origin_fetch_body_bytes are the
	// bytes of the requests Fastly SENDS to origin; origin_fetch_resp_* are
	// the bytes RECEIVED from origin, which is what origin_bytes means
	// ("fetched from origin"). Both APIs carry origin_fetch_resp_* (see the
	// historical sample and the real-time sample's YUL entry).
	vOriginFetchRespHeaderBytes: "origin_fetch_resp_header_bytes",
	vOriginFetchRespBodyBytes:   "origin_fetch_resp_body_bytes",
	vStatus2xx:                  "status_2xx",
	vStatus3xx:                  "status_3xx",
	vStatus4xx:                  "status_4xx",
	vStatus5xx:                  "status_5xx",
}

// Row keys of the historical stats API besides the measurements.
const (
	keyStartTime = "start_time"
	keyHitRatio  = "hit_ratio" // ignored (null without cacheable traffic): derived from counts
)

// lookupField maps a JSON key to a field; -1 when cdnmetrics ignores it.
// A switch on string(key) compiles to comparisons without allocating.
func lookupField(key []byte) int {
	switch string(key) {
	case "requests":
		return int(vRequests)
	case "hits":
		return int(vHits)
	case "miss":
		return int(vMiss)
	case "pass":
		return int(vPass)
	case "errors":
		return int(vErrors)
	case "edge_resp_header_bytes":
		return int(vEdgeRespHeaderBytes)
	case "edge_resp_body_bytes":
		return int(vEdgeRespBodyBytes)
	case "origin_fetches":
		return int(vOriginFetches)
	case "origin_fetch_resp_header_bytes":
		return int(vOriginFetchRespHeaderBytes)
	case "origin_fetch_resp_body_bytes":
		return int(vOriginFetchRespBodyBytes)
	case "status_2xx":
		return int(vStatus2xx)
	case "status_3xx":
		return int(vStatus3xx)
	case "status_4xx":
		return int(vStatus4xx)
	case "status_5xx":
		return int(vStatus5xx)
	}
	return -1
}

// stats is one decoded measurements object (a real-time datacenter or
// aggregated entry, or a historical row): the values cdnmetrics reads, as
// the vendor sent them (NaN for a value that is not a number), which of them
// were present, and a structural problem (not an object) that disqualifies
// the entry. Impossible values are not judged here but by the pipeline's
// value check, one field at a time (see impossible).
type stats struct {
	v       [numVFields]float64
	present uint32
	bad     string
}

func (s *stats) reset() { *s = stats{} }

// set stores a decoded value.
func (s *stats) set(f int, v float64) {
	s.v[f] = v
	s.present |= 1 << f
}

// check reports the structural problem that disqualifies the entry. The
// values themselves (negative, out of range, not a number, hits above
// requests) are the pipeline's value check's job: it makes the one field
// unknown and keeps the rest of the row.
func (s *stats) check() error {
	if s.bad != "" {
		return fmt.Errorf("%s", s.bad)
	}
	return nil
}

// impossible reports a vendor value no count can have. Such a value must
// not be added to another (a -5 plus a real 100 would be a plausible, wrong
// 95): it reaches the pipeline's value check whole (see combine, poison).
func impossible(v float64) bool { return !(v >= 0) || math.IsInf(v, 0) }

// combine is a+b for two parts of one count (header and body bytes), or
// the first impossible part as it is, so the pipeline's value check rejects
// the count and names the vendor value.
func combine(a, b float64) float64 {
	switch {
	case impossible(a):
		return a
	case impossible(b):
		return b
	}
	return a + b
}

// poison turns every impossible value into NaN. Real-time values are summed
// over seconds (and POPs) into a bucket; NaN stays NaN through the sums, so
// the bucket's field reaches the pipeline's value check as unknown instead
// of as a wrong total.
func (s *stats) poison() {
	for i, v := range s.v {
		if impossible(v) {
			s.v[i] = math.NaN()
		}
	}
}

func (s *stats) has(f vfield) bool { return s.present&(1<<f) != 0 }

// addRT adds a real-time entry into c. Fastly's real-time API omits every
// zero-valued field, and documents the fields as counts, so an absent field
// is a known 0: every unified field becomes known.
func (s *stats) addRT(c *schema.Counts) {
	s.poison()
	c.Add(schema.Requests, s.v[vRequests])
	c.Add(schema.Hits, s.v[vHits])
	c.Add(schema.Misses, s.v[vMiss])
	c.Add(schema.Passes, s.v[vPass])
	c.Add(schema.Errors, s.v[vErrors])
	c.Add(schema.EdgeBytes, s.v[vEdgeRespHeaderBytes]+s.v[vEdgeRespBodyBytes])
	c.Add(schema.OriginRequests, s.v[vOriginFetches])
	c.Add(schema.OriginBytes, s.v[vOriginFetchRespHeaderBytes]+s.v[vOriginFetchRespBodyBytes])
	c.Add(schema.Status2xx, s.v[vStatus2xx])
	c.Add(schema.Status3xx, s.v[vStatus3xx])
	c.Add(schema.Status4xx, s.v[vStatus4xx])
	c.Add(schema.Status5xx, s.v[vStatus5xx])
}

// addHistorical adds a historical row into c. Historical rows carry every
// field, so a field missing from a row is unknown, not zero: only present
// fields are set, and a sum (edge or origin bytes) only when both its parts
// are present.
func (s *stats) addHistorical(c *schema.Counts) {
	one := func(f schema.Field, a vfield) {
		if s.has(a) {
			c.Add(f, s.v[a])
		}
	}
	two := func(f schema.Field, a, b vfield) {
		if s.has(a) && s.has(b) {
			c.Add(f, combine(s.v[a], s.v[b]))
		}
	}
	one(schema.Requests, vRequests)
	one(schema.Hits, vHits)
	one(schema.Misses, vMiss)
	one(schema.Passes, vPass)
	one(schema.Errors, vErrors)
	two(schema.EdgeBytes, vEdgeRespHeaderBytes, vEdgeRespBodyBytes)
	one(schema.OriginRequests, vOriginFetches)
	two(schema.OriginBytes, vOriginFetchRespHeaderBytes, vOriginFetchRespBodyBytes)
	one(schema.Status2xx, vStatus2xx)
	one(schema.Status3xx, vStatus3xx)
	one(schema.Status4xx, vStatus4xx)
	one(schema.Status5xx, vStatus5xx)
}
