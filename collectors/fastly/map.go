package fastly

import (
	"encoding/json"
	"fmt"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// stats holds the Fastly fields cdnmetrics reads, from a real-time
// datacenter/aggregated entry or a historical row. Fastly real-time omits
// zero fields; an absent field decodes as 0, which Fastly documents.
type stats struct {
	Requests                   float64 `json:"requests"`
	Hits                       float64 `json:"hits"`
	Miss                       float64 `json:"miss"`
	Pass                       float64 `json:"pass"`
	Errors                     float64 `json:"errors"`
	EdgeRespHeaderBytes        float64 `json:"edge_resp_header_bytes"`
	EdgeRespBodyBytes          float64 `json:"edge_resp_body_bytes"`
	OriginFetches              float64 `json:"origin_fetches"`
	OriginFetchRespHeaderBytes float64 `json:"origin_fetch_resp_header_bytes"`
	OriginFetchRespBodyBytes   float64 `json:"origin_fetch_resp_body_bytes"`
	Status2xx                  float64 `json:"status_2xx"`
	Status3xx                  float64 `json:"status_3xx"`
	Status4xx                  float64 `json:"status_4xx"`
	Status5xx                  float64 `json:"status_5xx"`
}

// check rejects values no real interval has: negative counts, more hits
// than requests handled from cache.
func (s *stats) check() error {
	for name, v := range map[string]float64{
		"requests": s.Requests, "hits": s.Hits, "miss": s.Miss, "pass": s.Pass, "errors": s.Errors,
		"edge_resp_header_bytes": s.EdgeRespHeaderBytes, "edge_resp_body_bytes": s.EdgeRespBodyBytes,
		"origin_fetches": s.OriginFetches, "origin_fetch_resp_header_bytes": s.OriginFetchRespHeaderBytes,
		"origin_fetch_resp_body_bytes": s.OriginFetchRespBodyBytes,
		"status_2xx":                   s.Status2xx, "status_3xx": s.Status3xx, "status_4xx": s.Status4xx, "status_5xx": s.Status5xx,
	} {
		if v < 0 {
			return fmt.Errorf("negative %s (%v)", name, v)
		}
	}
	if s.Hits > s.Requests && s.Requests > 0 {
		return fmt.Errorf("hits (%v) > requests (%v)", s.Hits, s.Requests)
	}
	return nil
}

// add adds s into c; every mapped field becomes known.
func (s *stats) add(c *schema.Counts) {
	c.Add(schema.Requests, s.Requests)
	c.Add(schema.Hits, s.Hits)
	c.Add(schema.Misses, s.Miss)
	c.Add(schema.Passes, s.Pass)
	c.Add(schema.Errors, s.Errors)
	c.Add(schema.EdgeBytes, s.EdgeRespHeaderBytes+s.EdgeRespBodyBytes)
	c.Add(schema.OriginRequests, s.OriginFetches)
	c.Add(schema.OriginBytes, s.OriginFetchRespHeaderBytes+s.OriginFetchRespBodyBytes)
	c.Add(schema.Status2xx, s.Status2xx)
	c.Add(schema.Status3xx, s.Status3xx)
	c.Add(schema.Status4xx, s.Status4xx)
	c.Add(schema.Status5xx, s.Status5xx)
}

// row is one historical stats row.
type row struct {
	stats
	StartTime *int64   `json:"start_time"`
	ServiceID string   `json:"service_id"`
	HitRatio  *float64 `json:"hit_ratio"` // may be null; not used: derived from counts
}

// historicalAnswer is the historical stats envelope.
type historicalAnswer struct {
	Data   []json.RawMessage `json:"data"` // rows decoded one by one: a bad row costs only itself
	Status string            `json:"status"`
	Msg    any               `json:"msg"`
	Meta   struct {
		From   string `json:"from"`
		To     string `json:"to"`
		By     string `json:"by"`
		Region string `json:"region"`
	} `json:"meta"`
}

// rtSecond is one second of a real-time response.
type rtSecond struct {
	Datacenter map[string]stats `json:"datacenter"`
	Aggregated stats            `json:"aggregated"`
	Recorded   int64            `json:"recorded"`
}

// rtAnswer is one real-time response.
type rtAnswer struct {
	Data           []rtSecond `json:"Data"`
	Timestamp      int64      `json:"Timestamp"`
	AggregateDelay int64      `json:"AggregateDelay"`
	Error          string     `json:"Error"`
}
