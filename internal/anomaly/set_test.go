package anomaly

import "testing"

func TestSetRepeatSuppressionAndResends(t *testing.T) {
	var got []Crossing
	s := NewSet(DefaultParams(), SetOptions{Repeat: 600, OnCrossing: func(c Crossing) { got = append(got, c) }})
	const path = "cdn.fastly.svc.all.hit_ratio"
	vals := noisy(1000, 6)
	for i, v := range vals {
		s.Observe(path, int64(i*100), v) // 1000 points over more than a day
	}
	if len(got) != 0 {
		t.Fatalf("noise produced crossings: %+v", got)
	}
	// Spike at t=100000: a crossing. Another spike 5 min later is inside the
	// 600 s repeat window: not reported. One 11 min after the first is.
	for _, tc := range []struct {
		t    int64
		v    float64
		want int
	}{{100000, 500, 1}, {100300, 900, 1}, {100660, 5000, 2}} {
		if sc, fresh := s.Observe(path, tc.t, tc.v); !fresh || sc < DefaultThreshold {
			t.Fatalf("t=%d: score %v fresh %v", tc.t, sc, fresh)
		}
		if len(got) != tc.want {
			t.Fatalf("t=%d: %d crossings, want %d", tc.t, len(got), tc.want)
		}
	}
	if got[0].Path != path || got[0].Time != 100000 || got[0].Value != 500 {
		t.Errorf("first crossing %+v", got[0])
	}
	// A re-send of an old point changes nothing.
	before := *s.series[path].d
	if _, fresh := s.Observe(path, 100000, 1e9); fresh {
		t.Error("re-sent point reported as fresh")
	}
	if d := s.series[path].d; d.n != before.n || d.last != before.last || d.max != before.max {
		t.Error("re-sent point changed the detector")
	}
}

func TestSetMaxSeries(t *testing.T) {
	s := NewSet(DefaultParams(), SetOptions{MaxSeries: 2})
	s.Observe("a", 1, 1)
	s.Observe("b", 1, 1)
	if _, fresh := s.Observe("c", 1, 1); fresh {
		t.Error("third series accepted with MaxSeries 2")
	}
	if s.Len() != 2 || s.Overflow() != 1 {
		t.Errorf("len %d overflow %d, want 2 and 1", s.Len(), s.Overflow())
	}
	s.Forget("a")
	if _, fresh := s.Observe("c", 2, 1); !fresh {
		t.Error("series refused after Forget freed a slot")
	}
}
