package fastly

import (
	"fmt"

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
// aggregated entry, or a historical row): the values cdnmetrics reads, which
// of them were present, and the first problem found (a wrong type or an
// absurd value), which disqualifies the entry.
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

// fail records the entry's first problem.
func (s *stats) fail(f int, why string) {
	if s.bad == "" {
		s.bad = vendorNames[f] + ": " + why
	}
}

// check rejects what no real interval has. Negative values are caught while
// decoding; here the cross-field rule: hits are a subset of requests.
// Real-time seconds are not checked this way (see addRT): a single second's
// counters are not guaranteed to be attributed at the same instant.
func (s *stats) check() error {
	if s.bad != "" {
		return fmt.Errorf("%s", s.bad)
	}
	if s.has(vRequests) && s.has(vHits) && s.v[vHits] > s.v[vRequests] {
		return fmt.Errorf("hits (%v) > requests (%v)", s.v[vHits], s.v[vRequests])
	}
	return nil
}

func (s *stats) has(f vfield) bool { return s.present&(1<<f) != 0 }

// addRT adds a real-time entry into c. Fastly's real-time API omits every
// zero-valued field, and documents the fields as counts, so an absent field
// is a known 0: every unified field becomes known.
func (s *stats) addRT(c *schema.Counts) {
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
			c.Add(f, s.v[a]+s.v[b])
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
