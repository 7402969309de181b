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

// A POP Fastly names like one of our reserved locations ("ALL" becomes
// the node "all", our aggregate's) must not land on that series: like the
// inspectors it goes under "pop_<name>", the vendor's aggregate stays the
// only "all", and each such name is logged once and counted, however many
// answers carry it.
func TestRealTimePOPNamedLikeAReservedLocation(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
	)
	second := func(rec int64) string {
		return fmt.Sprintf(`{"datacenter":{"ALL":{"requests":1},"origin":{"requests":2},"Rum_eu":{"requests":3},"LHR":{"requests":4}},"aggregated":{"requests":10},"recorded":%d}`, rec)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 1:
			fmt.Fprintf(w, `{"Data":[%s],"Timestamp":1700000041,"AggregateDelay":9}`, second(1700000040))
		case 2:
			// Bucket 1700000040 is due: its end 1700000100 <= 1700000111 - 9 - 2.
			fmt.Fprintf(w, `{"Data":[%s],"Timestamp":1700000111,"AggregateDelay":9}`, second(1700000041))
		default:
			fmt.Fprint(w, `{"Data":[],"Timestamp":1700000112,"AggregateDelay":9}`)
		}
	}))
	defer srv.Close()
	var logs syncBuffer
	c, _ := newSim(t, time.Now, &logs, nil)
	c.o.RTURL = srv.URL + "/"
	c.o.Resolution = collectors.Duration(time.Minute)
	c.rt = newHTTPClientForTest(c.logger)
	counted := map[string]int{}
	c.env.Clock = collectors.Clock{Now: func() time.Time { return ourNow }, Reject: func(reason string, n int) {
		mu.Lock()
		defer mu.Unlock()
		counted[reason] += n
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.sleep = func(context.Context, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if calls >= 4 {
			cancel()
		}
	}
	rec := &recorder{}
	c.subscribe(ctx, service{id: "SVC", name: "www"}, rec)

	got := map[string]float64{}
	alls := 0
	for _, r := range rec.Records() {
		if r.Start != 1700000040 {
			continue
		}
		if r.Location == schema.LocationAll {
			alls++
		}
		v, _ := r.Get(schema.Requests)
		got[r.Location] = v
	}
	wantReq := map[string]float64{"all": 10 + 10, "pop_all": 1 + 1, "pop_origin": 2 + 2, "pop_rum_eu": 3 + 3, "LHR": 4 + 4}
	if alls != 1 || len(got) != len(wantReq) {
		t.Fatalf("bucket 1700000040: %d records at %q, locations %v; want one aggregate and %v\n%s", alls, schema.LocationAll, got, wantReq, logs.String())
	}
	for loc, v := range wantReq {
		if got[loc] != v {
			t.Errorf("%s requests = %v, want %v", loc, got[loc], v)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if counted[collectors.RenamedLocations] != 3 {
		t.Errorf("counted %v, want %s: 3 (ALL, origin, Rum_eu, once each)", counted, collectors.RenamedLocations)
	}
	if n := strings.Count(logs.String(), "POP named like a reserved location"); n != 3 {
		t.Errorf("%d warnings, want 3 (one per name):\n%s", n, logs.String())
	}
}

// Historical rows skipped because their start cannot be used are counted
// in rejected_values, not only logged.
func TestHistoricalSkippedRowsCounted(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","msg":null,"data":[
			{"start_time":1700000040,"requests":10},
			{"start_time":1700000250,"requests":1},
			{"start_time":"1700000280","requests":1}]}`)
	})
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "S1", Name: "www"})
	c.o.Regions = nil
	counted := map[string]int{}
	c.env.Clock = collectors.Clock{Reject: func(reason string, n int) { counted[reason] += n }}
	var rec recorder
	if err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000460, 0)}, &rec); err != nil {
		t.Fatal(err)
	}
	if counted[collectors.RejectedValues] != 2 {
		t.Errorf("counted %v, want %s: 2\n%s", counted, collectors.RejectedValues, logs.String())
	}
}

// Real-time seconds and POP entries skipped (no recorded time, a POP that
// is not an object) are counted in rejected_values, not only logged.
func TestRealTimeSkippedCounted(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			fmt.Fprint(w, `{"Data":[{"aggregated":{"requests":1}},
			{"datacenter":{"LHR":[1],"AMS":{"requests":1}},"aggregated":{"requests":2},"recorded":1700000040}],"Timestamp":1700000041,"AggregateDelay":9}`)
			return
		}
		if n > 20 {
			cancel() // a bound, whatever the subscriber does
		}
		fmt.Fprint(w, `{"Data":[],"Timestamp":1700000042,"AggregateDelay":9}`)
	}))
	defer srv.Close()
	var logs syncBuffer
	c, _ := newSim(t, time.Now, &logs, nil)
	c.o.RTURL = srv.URL + "/"
	c.rt = newHTTPClientForTest(c.logger)
	counted := map[string]int{}
	c.env.Clock = collectors.Clock{Now: func() time.Time { return ourNow }, Reject: func(reason string, n int) {
		mu.Lock()
		defer mu.Unlock()
		counted[reason] += n
	}}
	c.sleep = func(context.Context, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if calls >= 2 {
			cancel()
		}
	}
	c.subscribe(ctx, service{id: "SVC", name: "www"}, &recorder{})
	mu.Lock()
	defer mu.Unlock()
	if counted[collectors.RejectedValues] != 2 {
		t.Errorf("counted %v, want %s: 2 (one second, one POP)\n%s", counted, collectors.RejectedValues, logs.String())
	}
}
