package originlog

import (
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// A log line stamped more than the clock tolerance (5m) ahead of our clock
// is dropped and counted as rejected_future, even inside hold (10m): the
// writer's clock is not trusted beyond ours. Lines up to the tolerance
// ahead are kept.
func TestLinesAheadOfOurClockAreRejectedAndCounted(t *testing.T) {
	f := newFixture(t) // our clock: 10:05
	f.write(f.log, ll(60, 200, "1", "fastly")+ll(9*60, 200, "2", "fastly")+ll(13*60, 200, "4", "fastly"))
	c := f.collector(nil)
	counted := map[string]int{}
	c.clock = collectors.Clock{Reject: func(reason string, n int) { counted[reason] += n }}
	rec := &recorder{}
	collect(t, c, rec)
	w := rec.whisper()
	want(t, w, "fastly", t0+60, 1, 1, 1, 0, 0, 0)   // 10:01, the past
	want(t, w, "fastly", t0+9*60, 1, 2, 1, 0, 0, 0) // 10:09, 4m ahead: within the tolerance
	if _, ok := w[key("cdn.fastly.www.origin.origin_requests", t0+13*60)]; ok {
		t.Error("the line stamped 10:13 (8m ahead of our clock) was counted")
	}
	if counted[collectors.RejectedFuture] != 1 {
		t.Errorf("counted %v, want %s: 1", counted, collectors.RejectedFuture)
	}
	if !strings.Contains(f.logs.String(), "future=1") {
		t.Errorf("rejected line not logged: %s", f.logs.String())
	}
}
