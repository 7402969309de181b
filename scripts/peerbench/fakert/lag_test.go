package main

import (
	"sync/atomic"
	"testing"
	"time"
)

// A service that has not asked yet counts as behind from baseTS (the first
// second), not from the Unix epoch: with -delay 1s and the clock 10 s past
// paceStart, the newest second is baseTS+10; one service asked for
// baseTS+9 (1 behind), the other never asked (10 behind).
func TestLagCountsUnseenServiceFromBaseTS(t *testing.T) {
	savedPace, savedDelay, savedBase, savedStart, savedLast := *pace, *delay, baseTS, paceStart, lastTS
	defer func() {
		*pace, *delay, baseTS, paceStart, lastTS = savedPace, savedDelay, savedBase, savedStart, savedLast
	}()
	*pace, *delay = true, time.Second
	baseTS = 1_700_000_000
	paceStart = time.Now().Add(-10*time.Second - 500*time.Millisecond)
	lastTS = make([]atomic.Uint64, 2)
	lastTS[0].Store(baseTS + 9)
	maxLag, mean, behind, ok := lag()
	if !ok || maxLag != 10 || mean != (1+10)/2.0 || behind != 1 {
		t.Errorf("lag() = max %d, mean %v, behind %d, ok %v; want 10, 5.5, 1, true", maxLag, mean, behind, ok)
	}
}
