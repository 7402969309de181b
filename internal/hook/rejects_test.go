package hook

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRejectionsCountedAndLogRateLimited (review finding 7): 80 requests
// without a credential made 80 WARN lines and no counter. Now: one line
// for the first, none for the next 79 within the minute, then one line
// (saying 79 were not logged) for the first after the minute; the counter
// is exact (81) and written as hook.rejected_unauthenticated. Each reason
// is counted and limited on its own; event times ahead of our clock stay
// in rejected_future, not in rejected_malformed.
func TestRejectionsCountedAndLogRateLimited(t *testing.T) {
	f := newFixture(t, t.TempDir())
	clk := now
	f.h.now = func() time.Time { return clk }
	lines := func(msg string) int { return strings.Count(f.log.String(), `msg="`+msg+`"`) }
	bearer := map[string]string{"Authorization": "Bearer " + secret}

	for i := 0; i < 80; i++ {
		if code, _ := f.do(t, "POST", []byte(`{"what":"deploy"}`), nil); code != 401 {
			t.Fatalf("request %d: status %d, want 401", i, code)
		}
		clk = clk.Add(500 * time.Millisecond) // 80 in 40 s: all within the minute
	}
	for i := 0; i < 3; i++ {
		if code, _ := f.do(t, "GET", nil, nil); code != 405 {
			t.Fatalf("GET: status %d, want 405", code)
		}
		if code, _ := f.do(t, "POST", []byte(`{not json`), bearer); code != 400 {
			t.Fatalf("malformed: status %d, want 400", code)
		}
	}
	future := []byte(fmt.Sprintf(`{"when":%d}`, clk.Add(time.Hour).Unix()))
	if code, _ := f.do(t, "POST", future, bearer); code != 400 {
		t.Fatalf("future: status %d, want 400", code)
	}
	if n := lines("hook request rejected: unauthenticated"); n != 1 {
		t.Fatalf("%d unauthenticated lines for 80 requests in 40 s, want 1:\n%s", n, f.log)
	}
	if n := lines("hook request rejected: not a POST"); n != 1 {
		t.Fatalf("%d method lines for 3 GETs, want 1", n)
	}
	if n := lines("hook request rejected: malformed"); n != 2 {
		t.Fatalf("%d malformed lines (3 malformed, 1 future), want 2: one per reason", n)
	}
	clk = clk.Add(time.Minute)
	f.do(t, "POST", []byte(`{"what":"deploy"}`), nil)
	if n := lines("hook request rejected: unauthenticated"); n != 2 || !strings.Contains(f.log.String(), "not_logged_since_last=79") {
		t.Fatalf("after a minute: %d unauthenticated lines, want 2, the second with not_logged_since_last=79:\n%s", n, f.log)
	}
	want := map[string]float64{
		"cdn.cdnmetrics.hook.rejected_unauthenticated": 81, "cdn.cdnmetrics.hook.rejected_method": 3,
		"cdn.cdnmetrics.hook.rejected_malformed": 3, "cdn.cdnmetrics.hook.rejected_busy": 0,
		"cdn.cdnmetrics.hook.rejected_too_large": 0, "cdn.cdnmetrics.hook.rejected_unreadable": 0,
	}
	pts := f.h.RejectedPoints("cdn", clk)
	if len(pts) != len(want) {
		t.Fatalf("%d points, want %d: %+v", len(pts), len(want), pts)
	}
	for _, p := range pts {
		if v, ok := want[p.Path]; !ok || p.Value != v || p.Time != clk.Unix() {
			t.Errorf("%s = %v at %d, want %v at %d", p.Path, p.Value, p.Time, v, clk.Unix())
		}
	}
	if f.h.RejectedFuture() != 1 {
		t.Errorf("rejected_future = %d, want 1", f.h.RejectedFuture())
	}
}
