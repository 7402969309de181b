package collectors

import (
	"testing"
	"time"
)

func TestWindowKeys(t *testing.T) {
	w := WindowKeys{Delay: Duration(5 * time.Minute), Overlap: Duration(10 * time.Minute), Lookback: Duration(time.Hour)}
	got := w.ApplyTo(Timing{Step: time.Minute, Delay: time.Hour, MaxWindow: 6 * time.Hour})
	want := Timing{Step: time.Minute, Delay: 5 * time.Minute, Overlap: 10 * time.Minute, Lookback: time.Hour, MaxWindow: 6 * time.Hour}
	if got != want {
		t.Errorf("ApplyTo = %+v, want %+v", got, want)
	}
	for _, c := range []struct {
		name    string
		mutate  func(*WindowKeys)
		wantKey string
	}{
		{"defaults", func(*WindowKeys) {}, ""},
		{"zero delay and overlap", func(w *WindowKeys) { w.Delay, w.Overlap = 0, 0 }, ""},
		{"negative delay", func(w *WindowKeys) { w.Delay = -1 }, "x.delay"},
		{"delay above 2h", func(w *WindowKeys) { w.Delay = Duration(2*time.Hour + time.Second) }, "x.delay"},
		{"negative overlap", func(w *WindowKeys) { w.Overlap = -1 }, "x.overlap"},
		{"overlap above 24h", func(w *WindowKeys) { w.Overlap = Duration(25 * time.Hour) }, "x.overlap"},
		{"zero lookback", func(w *WindowKeys) { w.Lookback = 0 }, "x.lookback"},
		{"lookback beyond retention", func(w *WindowKeys) { w.Lookback = Duration(16 * 24 * time.Hour) }, "x.lookback"},
	} {
		k := w
		c.mutate(&k)
		ps := k.WindowProblems("x", 15*24*time.Hour)
		switch {
		case c.wantKey == "" && len(ps) != 0:
			t.Errorf("%s: unexpected %v", c.name, ps)
		case c.wantKey != "" && (len(ps) != 1 || ps[0].Key != c.wantKey):
			t.Errorf("%s: got %v, want one problem at %s", c.name, ps, c.wantKey)
		}
	}
}
