package backoff

import (
	"testing"
	"time"
)

// The delays double from first to the cap and stay inside the stated jitter
// range around the un-jittered delay, computed here by hand.
func TestNewRangeAndCap(t *testing.T) {
	cases := []struct {
		name       string
		first, max time.Duration
		lo, hi     float64
		want       []time.Duration // un-jittered delays, in order
	}{
		{"plus-minus-20%", 100 * time.Millisecond, time.Second, 0.8, 1.2,
			[]time.Duration{100, 200, 400, 800, 1000, 1000}},
		{"half-to-full", 500 * time.Millisecond, 2 * time.Second, 0.5, 1,
			[]time.Duration{500, 1000, 2000, 2000}},
		{"plus-25%", time.Second, 3 * time.Second, 1, 1.25,
			[]time.Duration{1000, 2000, 3000, 3000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for round := 0; round < 200; round++ {
				b := New(c.first, c.max, c.lo, c.hi)
				for i, ms := range c.want {
					d := ms * time.Millisecond
					got := b.NextBackOff()
					lo := time.Duration(float64(d)*c.lo) - time.Microsecond
					hi := time.Duration(float64(d)*c.hi) + time.Microsecond
					if got < lo || got > hi {
						t.Fatalf("delay %d = %v, want in [%v, %v]", i, got, lo, hi)
					}
				}
			}
		})
	}
}

// Without jitter the sequence is exact, and Reset starts it again.
func TestNewNoJitterAndReset(t *testing.T) {
	b := New(10*time.Millisecond, 50*time.Millisecond, 1, 1)
	want := []time.Duration{10, 20, 40, 50, 50}
	for i, ms := range want {
		if got := b.NextBackOff(); got != ms*time.Millisecond {
			t.Fatalf("delay %d = %v, want %v", i, got, ms*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.NextBackOff(); got != 10*time.Millisecond {
		t.Fatalf("after Reset: %v, want 10ms", got)
	}
}

// The jitter actually spreads: both halves of the range are hit.
func TestNewSpreads(t *testing.T) {
	var low, high bool
	for i := 0; i < 1000 && !(low && high); i++ {
		d := New(time.Second, time.Second, 0.8, 1.2).NextBackOff()
		low = low || d < 950*time.Millisecond
		high = high || d > 1050*time.Millisecond
	}
	if !low || !high {
		t.Fatalf("jitter did not spread over ±20%%: low=%v high=%v", low, high)
	}
}
