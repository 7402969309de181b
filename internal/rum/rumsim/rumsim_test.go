package rumsim

import (
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The synthetic hit share follows the model: n × hits/(hits+misses) of
// the second, rounded up, are hits; misses pay the 120 ms origin fetch.
func TestEntriesFollowModel(t *testing.T) {
	m := traffic.Demo(1)
	const ts = 1700000000
	pm := m.For("akamai")
	var hits, misses int64
	for pop := range pm.POPs {
		s := pm.At(0, pop, ts)
		hits += s.Hits
		misses += s.Misses
	}
	es := Entries(m, "akamai", "www", ts, 100)
	nHit := 0
	for _, e := range es {
		if e.Cache == "HIT" {
			nHit++
			if e.TTFB > 15+8*float64(len(pm.POPs))*1.3 {
				t.Errorf("hit TTFB %v above the slowest POP's round trip", e.TTFB)
			}
		} else if e.TTFB < 120 {
			t.Errorf("miss TTFB %v without the origin fetch", e.TTFB)
		}
	}
	want := 0
	for i := 0; i < 100; i++ {
		if float64(i) < float64(hits)/float64(hits+misses)*100 {
			want++
		}
	}
	if nHit != want || len(es) != 100 {
		t.Errorf("%d hits of %d, want %d (model %d/%d)", nHit, len(es), want, hits, hits+misses)
	}
}
