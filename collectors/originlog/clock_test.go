package originlog

import (
	"fmt"
	"path/filepath"
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

// A line whose byte count is impossible (negative, more than 18 digits) is
// still a request: its request and status count, its bytes are rejected,
// counted in rejected_values and warned about once per file, not per line
// and not as "did not match the pattern" (issue 16 items 3, 15).
func TestImpossibleByteCountRejectedPerValue(t *testing.T) {
	f := newFixture(t) // our clock: 10:05
	f.write(f.log, ll(60, 200, "100", "fastly")+ll(70, 503, "-5", "fastly")+ll(80, 200, "99999999999999999999", "fastly"))
	c := f.collector(nil)
	counted := map[string]int{}
	c.clock = collectors.Clock{Reject: func(reason string, n int) { counted[reason] += n }}
	rec := &recorder{}
	collect(t, c, rec)
	// 10:01: 3 requests, only the first line's 100 bytes, 2×2xx, 1×5xx.
	want(t, rec.whisper(), "fastly", t0+60, 3, 100, 2, 0, 0, 1)
	if counted[collectors.RejectedValues] != 2 {
		t.Errorf("counted %v, want %s: 2", counted, collectors.RejectedValues)
	}
	l := f.logs.String()
	if strings.Count(l, "impossible byte counts rejected") != 1 || !strings.Contains(l, "count=2") || strings.Contains(l, "did not match") {
		t.Errorf("log:\n%s", l)
	}
}

// A state file from a clock that was ahead (or edited) holds a watermark
// and an interval in 2100: not trusted. Before, every line was dropped as
// "late" until 2100 and the 2100 interval was held forever; now both are
// reset with one warning and counted in rejected_future, and the lines of
// this run are counted.
func TestStateFromTheFutureIsReset(t *testing.T) {
	f := newFixture(t) // our clock: 10:05
	const y2100 = 4102444800
	f.write(filepath.Join(f.state, Name+".state.json"), fmt.Sprintf(
		`{"version":1,"step":60,"watermark":%d,"files":{},"intervals":[{"start":%d,"providers":{"fastly":{"requests":5,"bytes":9,"status":[5,0,0,0]}}}]}`, y2100, y2100))
	f.write(f.log, ll(60, 200, "1", "fastly"))
	c := f.collector(nil)
	counted := map[string]int{}
	c.clock = collectors.Clock{Reject: func(reason string, n int) { counted[reason] += n }}
	rec := &recorder{}
	collect(t, c, rec)
	w := rec.whisper()
	want(t, w, "fastly", t0+60, 1, 1, 1, 0, 0, 0)
	if _, ok := w[key("cdn.fastly.www.origin.origin_requests", y2100)]; ok {
		t.Error("the 2100 interval of the state file was emitted")
	}
	if counted[collectors.RejectedFuture] != 2 {
		t.Errorf("counted %v, want %s: 2 (the watermark and the interval)", counted, collectors.RejectedFuture)
	}
	if n := strings.Count(f.logs.String(), "state ahead of our clock"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, f.logs.String())
	}
}

// Lines that do not match the pattern are requests we cannot count: each
// is counted in rejected_values (before, they were only logged) and the
// file gets one warning with the number, not one per line. Here: two
// garbage lines and one line longer than the read buffer (dropped as one
// line) among three good ones, so 3 rejected.
func TestUnmatchedLinesAreCounted(t *testing.T) {
	f := newFixture(t) // our clock: 10:05
	long := ll(40, 200, "1", "fastly")
	long = long[:len(long)-1] + strings.Repeat("x", readBuf+1000) + "\n"
	f.write(f.log, ll(10, 200, "1", "fastly")+"garbage that is not a log line\n"+
		ll(20, 200, "2", "fastly")+"neither is this\n"+long+ll(30, 200, "4", "fastly"))
	c := f.collector(nil)
	counted := map[string]int{}
	c.clock = collectors.Clock{Reject: func(reason string, n int) { counted[reason] += n }}
	rec := &recorder{}
	collect(t, c, rec)
	want(t, rec.whisper(), "fastly", t0, 3, 7, 3, 0, 0, 0) // the three good lines
	if len(counted) != 1 || counted[collectors.RejectedValues] != 3 {
		t.Errorf("counted %v, want only %s: 3", counted, collectors.RejectedValues)
	}
	l := f.logs.String()
	if strings.Count(l, "did not match the pattern") != 1 || !strings.Contains(l, "unmatched=3") || !strings.Contains(l, "level=WARN") {
		t.Errorf("want one warning with unmatched=3; log:\n%s", l)
	}
}
