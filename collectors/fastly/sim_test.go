package fastly

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly/fastlysim"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// fastlysim.Serve + fastlysim.Config + Collect produce exactly fastlysim.Expect.
func TestSimulatorCollectEqualsExpect(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC)
	var logs syncBuffer
	c, m := newSim(t, func() time.Time { return now }, &logs, nil)
	w := collectors.Window{Start: now.Add(-20 * time.Minute).Truncate(time.Minute), End: now.Add(-5 * time.Minute).Truncate(time.Minute)}
	var rec recorder
	if err := c.Collect(context.Background(), w, &rec); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	want := fastlysim.Expect(m, w)
	// 3 services × 15 minutes × (all + 4 regions) = 225 records.
	if len(want) != len(m.Services)*15*(1+len(m.Regions())) || len(want) != 225 {
		t.Fatalf("expect gave %d records", len(want))
	}
	if len(rec.Records()) != len(want) {
		t.Fatalf("got %d records, expect %d", len(rec.Records()), len(want))
	}
	key := func(r schema.Record) string {
		return fmt.Sprintf("%s/%s/%d/%d", r.Service, r.Location, r.Start, r.Step)
	}
	got := map[string]schema.Record{}
	for _, r := range rec.Records() {
		got[key(r)] = r
	}
	for _, w := range want {
		g, ok := got[key(w)]
		if !ok || g.Counts != w.Counts {
			t.Fatalf("%s: got %+v, want %+v", key(w), g.Counts, w.Counts)
		}
	}
	// The all-regions total equals the sum of the regions (the model has no
	// traffic outside them), so Fastly's total and the sum agree here.
	r := got[key(schema.Record{Service: m.Services[0].Name, Location: "all", Start: w.Start.Unix(), Step: 60})]
	var sum float64
	for _, region := range m.Regions() {
		rr := got[key(schema.Record{Service: m.Services[0].Name, Location: region, Start: w.Start.Unix(), Step: 60})]
		v, _ := rr.Get(schema.Requests)
		sum += v
	}
	if v, _ := r.Get(schema.Requests); v != sum || v == 0 {
		t.Fatalf("all %v, sum of regions %v", v, sum)
	}
	// Services read concurrently: the same records.
	c.o.Concurrency = 3
	var rec3 recorder
	if err := c.Collect(context.Background(), w, &rec3); err != nil || len(rec3.Records()) != len(want) {
		t.Fatalf("concurrent collect: %d records, err %v", len(rec3.Records()), err)
	}
	for _, r := range rec3.Records() {
		if got[key(r)].Counts != r.Counts {
			t.Fatalf("concurrent collect differs at %s", key(r))
		}
	}
	// The newest minutes are not published yet: ErrNoData.
	if err := c.Collect(context.Background(), collectors.Window{Start: now.Add(-2 * time.Minute).Truncate(time.Minute), End: now.Truncate(time.Minute)}, &rec); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("unpublished window: err %v", err)
	}
}

// Discovery through the stand-in pages (2 services a page) and the version
// the stand-in reports moves every hour: one event per service.
func TestSimulatorDiscoveryAndVersionEvents(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC).Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	var logs syncBuffer
	ev := &events{}
	c, m := newSim(t, now, &logs, ev)
	c.o.Service = nil
	svcs, err := c.resolve(context.Background(), true)
	if err != nil || len(svcs) != len(m.Services) {
		t.Fatalf("discovered %d (%v), want %d", len(svcs), err, len(m.Services))
	}
	clock.Add(3600)
	if _, err := c.resolve(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if len(ev.got) != len(m.Services) {
		t.Fatalf("events %+v", ev.got)
	}
	v1, v2 := fastlysim.Version(now().Add(-time.Hour)), fastlysim.Version(now())
	if ev.got[0].Data != fmt.Sprintf("fastly %s: version %d → %d", m.Services[0].Name, v1, v2) {
		t.Fatalf("event %+v", ev.got[0])
	}
}

// The stream against the stand-in (its clock 20× faster than ours): every
// emitted bucket equals the model's sums for its seconds, per POP and in
// total, and no bucket is emitted twice unless it changed.
func TestStreamAgainstSimulatorAddsUpToTheModel(t *testing.T) {
	// The first real-time answer is for second now−4 = 12:00:01, inside
	// the bucket from 12:00:00: incomplete, which the collector must log.
	// It stays so unless 9 model seconds (450 ms at 20×) pass before the
	// first request (a start at 12:00:03 left 50 ms).
	start := time.Date(2026, 11, 22, 12, 0, 5, 0, time.UTC)
	clock := fastClock(start, 20)
	var logs syncBuffer
	c, m := newSim(t, clock, &logs, nil)
	c.o.Service = c.o.Service[1:2]
	c.idle = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rec recorder
	done := make(chan error, 1)
	go func() { done <- c.Stream(ctx, &rec) }()
	waitFor(t, 15*time.Second, "4 buckets", func() bool {
		n := 0
		for _, r := range rec.Records() {
			if r.Location == "all" {
				n++
			}
		}
		return n >= 4
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Stream returned %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Stream did not return promptly after cancel")
	}
	pop := map[string]int{}
	for i, p := range m.POPs {
		pop[p.Code] = i
	}
	seen := map[string]bool{}
	for _, r := range rec.Records() {
		if r.Step != 10 || r.Start%10 != 0 || r.Service != m.Services[1].Name {
			t.Fatalf("record %+v", r)
		}
		k := fmt.Sprintf("%s@%d", r.Location, r.Start)
		if seen[k] {
			t.Errorf("%s emitted twice without a change", k)
		}
		seen[k] = true
		var s traffic.Sample
		if r.Location == "all" {
			s = m.SumAll(1, r.Start, r.Start+10)
		} else {
			s = m.Sum(1, pop[r.Location], r.Start, r.Start+10)
		}
		want := fastlysim.Counts(s)
		for _, f := range schema.Fields() {
			g, gok := r.Get(f)
			w, _ := want.Get(f)
			if !gok || g != w {
				t.Errorf("%s %s = %v (known %v), model %v", k, f, g, gok, w)
			}
		}
	}
	if !strings.Contains(logs.String(), "first fastly real-time bucket after subscribing is incomplete") {
		t.Errorf("the partial first bucket was not reported:\n%s", logs.String())
	}
}

// The real-time loop passes back the Timestamp it got, keeps it over a
// no-data answer, and never computes ts+1.
func TestStreamPassesBackTimestamp(t *testing.T) {
	var calls atomic.Int64
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		paths = append(paths, r.URL.Path)
		switch n {
		case 1:
			fmt.Fprint(w, `{"Data":[{"aggregated":{"requests":1},"datacenter":{"AMS":{"requests":1}},"recorded":1700000040}],"Timestamp":1700000050,"AggregateDelay":9}`)
		case 2:
			fmt.Fprint(w, `{"Data":[],"Timestamp":1700000050,"AggregateDelay":9,"Error":"No data available, please retry"}`)
		case 3:
			fmt.Fprint(w, `{"Error":"No data available, please retry"}`)
		case 4:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, `{"Data":[],"Timestamp":1700000077,"AggregateDelay":9}`)
		}
	}))
	defer srv.Close()
	var logs syncBuffer
	c, _ := newSim(t, time.Now, &logs, nil)
	c.o.RTURL = srv.URL + "/"
	c.rt = newHTTPClientForTest(c.logger)
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(context.Context, time.Duration) {
		if calls.Load() >= 6 {
			cancel()
		}
	}
	c.subscribe(ctx, service{id: "SVC", name: "www"}, &recorder{})
	want := []string{"/v1/channel/SVC/ts/0", "/v1/channel/SVC/ts/1700000050", "/v1/channel/SVC/ts/1700000050", "/v1/channel/SVC/ts/1700000050"}
	if len(paths) < 6 || strings.Join(paths[:4], " ") != strings.Join(want, " ") || paths[len(paths)-1] != "/v1/channel/SVC/ts/1700000077" {
		t.Fatalf("paths %v", paths)
	}
}

// 401/403 are logged once (not once a second), backed off for minutes, and
// cancellation returns promptly even during that backoff.
func TestStreamAuthFailureBacksOffAndCancels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"Error": "unauthorized"}`)
	}))
	defer srv.Close()
	var logs syncBuffer
	c, _ := newSim(t, time.Now, &logs, nil)
	c.o.RTURL = srv.URL
	var waits []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(_ context.Context, d time.Duration) {
		waits = append(waits, d)
		if len(waits) == 5 {
			cancel()
		}
	}
	c.subscribe(ctx, service{id: "SVC", name: "www"}, &recorder{})
	if n := strings.Count(logs.String(), "refused the token"); n != 1 {
		t.Fatalf("logged %d times:\n%s", n, logs.String())
	}
	for _, w := range waits {
		if w < authBackoff {
			t.Fatalf("waited %v after a 403, want >= %v", w, authBackoff)
		}
	}
	// With the real sleep, cancelling during the 2-minute backoff returns at once.
	c.sleep = sleepCtx
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.subscribe(ctx, service{id: "SVC", name: "www"}, &recorder{}); close(done) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("subscriber did not stop promptly")
	}
}
