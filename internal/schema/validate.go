package schema

import (
	"fmt"
	"math"
)

// MaxCount is the largest count accepted: 2^53, above which a float64 no
// longer holds every integer. No CDN serves 9·10^15 requests or bytes in
// one interval of one service; a larger value is a vendor bug or garbage.
const MaxCount = 1 << 53

// Rejection is one count that no real interval can have, removed by Check.
type Rejection struct {
	Field  Field
	Value  float64
	Reason string
}

func (r Rejection) String() string {
	return fmt.Sprintf("%s=%v: %s", r.Field, r.Value, r.Reason)
}

// Unset makes f unknown.
func (c *Counts) Unset(f Field) {
	c.v[f] = 0
	c.known &^= 1 << f
}

// Check makes unknown every count that is impossible and returns what it
// removed; the other counts stay. Impossible is: NaN or infinite, negative,
// above MaxCount, and hits or misses above requests (both are subsets of
// requests). When hits or misses exceed requests, the subset is what is
// dropped: requests also feeds error_ratio and request_offload, and one
// wrong field is more likely than two.
//
// What is merely surprising is real data and stays: origin bytes above edge
// bytes (compression at the edge, client aborts: a negative origin_offload)
// and origin requests above requests (shielding, prefetch).
func (c *Counts) Check() []Rejection {
	var out []Rejection
	for f := Field(0); f < NumFields; f++ {
		v, ok := c.Get(f)
		if !ok {
			continue
		}
		var why string
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			why = "not a finite number"
		case v < 0:
			why = "negative count"
		case v > MaxCount:
			why = "above 2^53"
		default:
			continue
		}
		c.Unset(f)
		out = append(out, Rejection{Field: f, Value: v, Reason: why})
	}
	if req, ok := c.Get(Requests); ok {
		for _, f := range [...]Field{Hits, Misses} {
			if v, ok := c.Get(f); ok && v > req {
				c.Unset(f)
				out = append(out, Rejection{Field: f, Value: v, Reason: fmt.Sprintf("above requests (%v)", req)})
			}
		}
	}
	return out
}
