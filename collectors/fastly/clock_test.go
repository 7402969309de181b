package fastly

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// ourNow is our clock in these tests: 2023-11-14T22:15:00Z.
var ourNow = time.Unix(1700000100, 0)

// A real-time answer whose Timestamp and one second's recorded time are in
// 2100: the second is left out and counted, the Timestamp does not move
// Fastly's clock, and the genuine second of the same answer starts the
// subscription's first bucket, which is emitted whole once Fastly's real
// clock passes it. Before the fix the 2100 second became the first bucket
// (every later one "incomplete") and the Timestamp made buckets due at once.
func TestAggregatorRejectsTimesAheadOfOurClock(t *testing.T) {
	agg := newAggregator("www", time.Minute)
	agg.ours = collectors.Clock{Now: func() time.Time { return ourNow }}
	res := decodeAdd(t, agg, []byte(`{"Data":[
		{"aggregated":{"requests":100},"recorded":4102444800},
		{"aggregated":{"requests":1},"recorded":1700000040}],"Timestamp":4102444830,"AggregateDelay":9}`))
	if res.future != 1 || res.newestFuture != 4102444800 || res.futureTimestamp != 4102444830 {
		t.Fatalf("future seconds %d (newest %d), future Timestamp %d; want 1, 4102444800, 4102444830", res.future, res.newestFuture, res.futureTimestamp)
	}
	if len(res.recs) != 0 || len(res.partial) != 0 {
		t.Fatalf("first answer emitted %v or closed partial buckets %v: bucket 1700000040 is not due by Fastly's clock", res.recs, res.partial)
	}
	// 5 minutes ahead of our clock is still trusted (the tolerance).
	res = decodeAdd(t, agg, []byte(`{"Data":[{"aggregated":{"requests":2},"recorded":1700000050}],"Timestamp":1700000111,"AggregateDelay":9}`))
	if res.future != 0 || res.futureTimestamp != 0 || len(res.recs) != 1 {
		t.Fatalf("second answer: %+v; want bucket 1700000040 emitted whole", res)
	}
	if r := res.recs[0]; r.Start != 1700000040 {
		t.Fatalf("emitted bucket %d, want 1700000040", r.Start)
	}
	want(t, res.recs[0], map[schema.Field]float64{schema.Requests: 1 + 2})
	res = decodeAdd(t, agg, []byte(fmt.Sprintf(`{"Data":[{"aggregated":{"requests":3},"recorded":%d}],"Timestamp":%d,"AggregateDelay":9}`,
		ourNow.Add(5*time.Minute).Unix(), ourNow.Add(5*time.Minute).Unix())))
	if res.future != 0 || res.futureTimestamp != 0 {
		t.Fatalf("a second exactly at our clock + tolerance was rejected: %+v", res)
	}
}

// The stream does not pass a Timestamp ahead of our clock back as ts
// (Fastly would answer "no data" until 2100): it asks from our clock,
// logs one warning for the answer and counts both rejected times.
func TestStreamDoesNotFollowATimestampAheadOfOurClock(t *testing.T) {
	var (
		mu    sync.Mutex
		paths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		n := len(paths)
		mu.Unlock()
		switch n {
		case 1:
			fmt.Fprint(w, `{"Data":[{"aggregated":{"requests":9},"recorded":4102444800},{"aggregated":{"requests":1},"recorded":1700000040}],"Timestamp":4102444830,"AggregateDelay":9}`)
		default:
			fmt.Fprint(w, `{"Data":[],"Timestamp":1700000101,"AggregateDelay":9}`)
		}
	}))
	defer srv.Close()
	var logs syncBuffer
	c, _ := newSim(t, time.Now, &logs, nil)
	c.o.RTURL = srv.URL + "/"
	c.rt = newHTTPClientForTest(c.logger)
	counted := map[string]int{}
	c.env.Clock = collectors.Clock{Now: func() time.Time { return ourNow }, Reject: func(reason string, n int) { counted[reason] += n }}
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(context.Context, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if len(paths) >= 3 {
			cancel()
		}
	}
	c.subscribe(ctx, service{id: "SVC", name: "www"}, &recorder{})
	mu.Lock()
	defer mu.Unlock()
	if len(paths) < 2 || paths[0] != "/v1/channel/SVC/ts/0" || paths[1] != "/v1/channel/SVC/ts/1700000100" {
		t.Fatalf("paths %v; want ts/0, then ts/1700000100 (our clock), not 4102444830", paths)
	}
	if counted[collectors.RejectedFuture] != 2 || len(counted) != 1 {
		t.Errorf("counted %v, want %s: 2 (one second, one Timestamp)", counted, collectors.RejectedFuture)
	}
	if n := strings.Count(logs.String(), "times ahead of our clock rejected"); n != 1 {
		t.Errorf("%d warnings, want 1 for the answer:\n%s", n, logs.String())
	}
}

// A clock that stays off stays off for every answer: each is counted, but
// the warning is logged at most once a minute, the next one saying how
// many answers it covers.
func TestStreamRateLimitsTheFutureWarning(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
		now   = ourNow
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		if calls == 4 {
			now = now.Add(61 * time.Second)
		}
		mu.Unlock()
		fmt.Fprint(w, `{"Data":[{"aggregated":{"requests":9},"recorded":4102444800}],"Timestamp":4102444830,"AggregateDelay":9}`)
	}))
	defer srv.Close()
	var logs syncBuffer
	c, _ := newSim(t, time.Now, &logs, nil)
	c.o.RTURL = srv.URL + "/"
	c.rt = newHTTPClientForTest(c.logger)
	counted := 0
	c.env.Clock = collectors.Clock{
		Now:    func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Reject: func(_ string, n int) { counted += n },
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(context.Context, time.Duration) {}
	e := collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return nil })
	go func() {
		for {
			mu.Lock()
			n := calls
			mu.Unlock()
			if n >= 5 {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	c.subscribe(ctx, service{id: "SVC", name: "www"}, e)
	mu.Lock()
	n := calls
	mu.Unlock()
	if counted != 2*n && counted != 2*(n-1) { // the last answer may be cut by the cancel
		t.Errorf("counted %d rejections over %d answers, want 2 per answer", counted, n)
	}
	lines := strings.Count(logs.String(), "times ahead of our clock rejected")
	if lines != 2 || !strings.Contains(logs.String(), "since_last_warning_answers=2") {
		t.Errorf("%d warnings over %d answers, want 2 (at once, then after the minute, covering the 2 quiet answers):\n%s", lines, n, logs.String())
	}
}
