package anomaly

import "testing"

func TestSetRepeatSuppressionAndResends(t *testing.T) {
	var got []Crossing
	// Confirm −1: every crossing is reported at once (confirmation has its
	// own test below).
	s := NewSet(DefaultParams(), SetOptions{Repeat: 600, Confirm: -1, OnCrossing: func(c Crossing) { got = append(got, c) }})
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

func TestSetConfirmation(t *testing.T) {
	var got []Crossing
	s := NewSet(DefaultParams(), SetOptions{Repeat: 1, OnCrossing: func(c Crossing) { got = append(got, c) }})
	const path = "cdn.fastly.svc.all.hit_ratio"
	vals := noisy(1000, 6)
	for i, v := range vals {
		s.Observe(path, int64(i*100), v)
	}
	base := vals[len(vals)-1]
	// A lone spike that the next point takes back scores high but is not
	// reported.
	if sc, _ := s.Observe(path, 100000, 500); sc < DefaultThreshold {
		t.Fatalf("spike scored %v, below the threshold", sc)
	}
	s.Observe(path, 100100, base)
	s.Observe(path, 100200, base)
	if len(got) != 0 {
		t.Fatalf("a spike taken back was reported: %+v", got)
	}
	// A level that stays: reported on the second confirming point, with the
	// onset's time, value and score.
	var onset float64
	for i, v := range []float64{900, 880, 910} {
		sc, _ := s.Observe(path, 100300+int64(i)*100, v)
		if i == 0 {
			onset = sc
		}
		if want := map[bool]int{true: 1, false: 0}[i == 2]; len(got) != want {
			t.Fatalf("after point %d of the new level: %d reports, want %d", i, len(got), want)
		}
	}
	if c := got[0]; c.Time != 100300 || c.Value != 900 || c.Score != onset || c.Path != path {
		t.Errorf("report %+v, want the onset (t=100300, v=900, score %v)", c, onset)
	}
}

func TestSetStuckAtRestNotReported(t *testing.T) {
	var got []Crossing
	s := NewSet(DefaultParams(), SetOptions{Repeat: 1, OnCrossing: func(c Crossing) { got = append(got, c) }})
	// An error ratio: zero with a burst every 40 points, then zero for 200
	// points, longer than ever but at the value it always rests at. (A
	// series frozen where it never rested is reported: the frozen hit ratio
	// in cdn_test.go.)
	t0 := int64(0)
	var scores []float64
	next := func(v float64) {
		t0 += 60
		sc, _ := s.Observe("e", t0, v)
		scores = append(scores, sc)
	}
	for i := 0; i < 2000; i++ {
		if i%40 == 39 {
			next(0.1 + float64(i%7)/100)
		} else {
			next(0)
		}
	}
	got = nil // the first bursts are news to a young series
	for i := 0; i < 200; i++ {
		next(0)
	}
	if !s.series["e"].d.stuckNow && scores[len(scores)-161] < 1 {
		// The record run is news to the detector at its 40th point (the
		// longest run so far was 39): the case the Set must not report.
		t.Fatalf("the detector did not score the record run at rest; scores %v", scores[2030:2050])
	}
	if len(got) != 0 {
		t.Fatalf("resting at 0 for longer than ever reported: %+v", got)
	}
}
