package fastly

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// pointMap indexes points by "path@time"; a path written twice at the
// same time with different values fails (Graphite would keep only one).
func pointMap(t *testing.T, pts []schema.Point) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, p := range pts {
		k := fmt.Sprintf("%s@%d", p.Path, p.Time)
		if v, ok := m[k]; ok && v != p.Value && !(math.IsNaN(v) && math.IsNaN(p.Value)) {
			t.Errorf("%s written twice: %v and %v", k, v, p.Value)
		}
		m[k] = p.Value
	}
	return m
}

// wantPoints checks each expected point (to 1e-9) and that no other point
// exists under the prefixes the expectation covers.
func wantPoints(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		v, ok := got[k]
		if !ok {
			t.Errorf("missing %s (want %v)", k, w)
			continue
		}
		if math.Abs(v-w) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, v, w)
		}
	}
}

// inspectAdd decodes body with the feed's lookup and adds it.
func inspectAdd(t *testing.T, a *inspectAgg, fd *inspectFeed, body []byte) iAddResult {
	t.Helper()
	var f iFrame
	if err := decodeInspect(body, fd.lookup, &f); err != nil {
		t.Fatal(err)
	}
	return a.add(&f)
}

// closeBucket is an answer whose Timestamp makes the bucket of 1700000040
// due: its end 1700000100 + AggregateDelay 5 + grace 2.
var closeBucket = []byte(`{"Data":[],"Timestamp":1700000107,"AggregateDelay":5}`)

// Two seconds of the constructed Origin Inspector answer in one 60 s
// bucket: the counts are summed, the percentiles come from the summed
// latency buckets (values worked out by hand in the comments), the
// fields cdnmetrics does not map (status_200, waf_*, compute_*) are left
// out, and names become safe path nodes.
func TestInspectOriginsRealTimeByHand(t *testing.T) {
	body := collectorstest.ReadTestdata(t, "rt-origins-ts-response.constructed.json")
	second := bytes.Replace(body, []byte(`"recorded": 1700000040`), []byte(`"recorded": 1700000041`), 1)
	a := newInspectAgg("cdn", "www", feedOrigins, time.Minute, true)
	if r := inspectAdd(t, a, originFeed, body); len(r.points) != 0 || len(r.skipped) != 0 {
		t.Fatalf("bucket written before it is due: %+v", r)
	}
	inspectAdd(t, a, originFeed, second)
	r := inspectAdd(t, a, originFeed, closeBucket)
	got := pointMap(t, r.points)
	const at = "@1700000040"
	all := "cdn.fastly.www.all.origins.origin_example_com."
	s3 := "cdn.fastly.www.all.origins.s3_bucket_assets."
	lhr := "cdn.fastly.www.lhr.origins.origin_example_com."
	iad := "cdn.fastly.www.iad.origins.origin_example_com."
	wantPoints(t, got, map[string]float64{
		all + "responses" + at:           2 * 10,
		all + "origin_bytes" + at:        2 * (1000 + 50000),
		all + "status_2xx" + at:          2 * 9,
		all + "status_3xx" + at:          0,
		all + "status_4xx" + at:          0,
		all + "status_5xx" + at:          2 * 1,
		all + "latency_0_to_1ms" + at:    0, // compute_latency_0_to_1ms is not the origin's
		all + "latency_10_to_50ms" + at:  2 * 4,
		all + "latency_50_to_100ms" + at: 2 * 6,
		all + "latency_60000ms" + at:     0,
		// 20 responses: rank 10 lies in 50–100 (8 before it, 12 in it).
		all + "latency_p50_ms" + at: 50 + 50*(10.0-8)/12,
		all + "latency_p95_ms" + at: 50 + 50*(19.0-8)/12,
		s3 + "responses" + at:       4,
		s3 + "origin_bytes" + at:    600,
		// 4 responses, all in 1–5: rank 2 and 3.8.
		s3 + "latency_p50_ms" + at: 1 + 4*2.0/4,
		s3 + "latency_p95_ms" + at: 1 + 4*3.8/4,
		// LHR: 8 in 10–50, 4 in 50–100; rank 6 and 11.4.
		lhr + "responses" + at:      12,
		lhr + "latency_p50_ms" + at: 10 + 40*6.0/8,
		lhr + "latency_p95_ms" + at: 50 + 50*(11.4-8)/4,
		// IAD: 8 in 50–100; rank 4 and 7.6.
		iad + "responses" + at:      8,
		iad + "origin_bytes" + at:   2 * 20400,
		iad + "latency_p50_ms" + at: 50 + 50*4.0/8,
		iad + "latency_p95_ms" + at: 50 + 50*7.6/8,
	})
	// Per origin: 4 status classes + responses + origin_bytes + 12
	// buckets + 2 percentiles = 20 metrics; series: all × 2, LHR × 2, IAD × 1.
	if len(got) != 5*20 {
		t.Errorf("%d points, want 100", len(got))
	}
	for k := range got {
		if strings.Contains(k, "waf") || strings.Contains(k, "compute") || strings.Contains(k, "status_200") {
			t.Errorf("unmapped field written: %s", k)
		}
	}
	// A percentile is never the average of the POPs' percentiles.
	if avg := (got[lhr+"latency_p50_ms"+at] + got[iad+"latency_p50_ms"+at]) / 2; avg == got[all+"latency_p50_ms"+at] {
		t.Errorf("all's p50 equals the average of the POPs' (%v)", avg)
	}
}

// Without inspectors_per_pop only location all is written, and without a
// vendor aggregate all is the sum of the POPs.
func TestInspectOriginsAllOnlyAndSumOfPOPs(t *testing.T) {
	a := newInspectAgg("cdn", "www", feedOrigins, time.Minute, false)
	inspectAdd(t, a, originFeed, []byte(`{"Data":[{"recorded":1700000040,"datacenter":{
		"LHR":{"o1":{"responses":3,"latency_0_to_1ms":3}},
		"IAD":{"o1":{"responses":1,"latency_60000ms":1}}}}],"Timestamp":1700000041,"AggregateDelay":5}`))
	got := pointMap(t, inspectAdd(t, a, originFeed, closeBucket).points)
	for k := range got {
		if !strings.HasPrefix(k, "cdn.fastly.www.all.origins.o1.") {
			t.Errorf("unexpected point %s", k)
		}
	}
	wantPoints(t, got, map[string]float64{
		"cdn.fastly.www.all.origins.o1.responses@1700000040": 4,
		// 4 responses: 3 in 0–1, 1 in 60000+. Rank 2 → 0 + 1×2/3; rank 3.8
		// is in the open-ended bucket → its lower bound.
		"cdn.fastly.www.all.origins.o1.latency_p50_ms@1700000040": 2.0 / 3,
		"cdn.fastly.www.all.origins.o1.latency_p95_ms@1700000040": 60000,
	})
}

func TestInspectDomainsRealTimeByHand(t *testing.T) {
	a := newInspectAgg("cdn", "www", feedDomains, time.Minute, true)
	inspectAdd(t, a, domainFeed, collectorstest.ReadTestdata(t, "rt-domains-ts-response.constructed.json"))
	got := pointMap(t, inspectAdd(t, a, domainFeed, closeBucket).points)
	const at = "@1700000040"
	www := "cdn.fastly.www.all.domains.www_example_com."
	api := "cdn.fastly.www.all.domains.api_example_com."
	wantPoints(t, got, map[string]float64{
		www + "requests" + at:   100,
		www + "edge_bytes" + at: 20000 + 980000, // edge_resp_*, not resp_* or bandwidth
		www + "hits" + at:       90,
		www + "misses" + at:     8,
		www + "hit_ratio" + at:  90.0 / 98,
		api + "requests" + at:   10,
		api + "edge_bytes" + at: 5000,
		api + "hits" + at:       0, // absent: a known zero
		api + "misses" + at:     10,
		api + "hit_ratio" + at:  0,
		"cdn.fastly.www.lhr.domains.www_example_com.edge_bytes" + at: 600000,
		"cdn.fastly.www.iad.domains.www_example_com.hit_ratio" + at:  36.0 / 39,
	})
	if len(got) != 5*5 { // series: all × 2, LHR × 2, IAD × 1; 5 metrics each
		t.Errorf("%d points, want 25", len(got))
	}
}

// Hostile names stay one safe path node each; two names that sanitise
// alike are summed into one node and reported once.
func TestInspectNamesAreSafeNodes(t *testing.T) {
	long := strings.Repeat("a", 300)
	for _, c := range []struct{ in, want string }{
		{"origin.example.com", "origin_example_com"},
		{"../../etc;x=1 y", "______etc_x_1_y"},
		{"", "_"},
		{"Ünïcode", "__n__code"},
		{"a\nb\x00c", "a_b_c"},
	} {
		if got := inspectNode([]byte(c.in)); got != c.want {
			t.Errorf("inspectNode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	n1, n2 := inspectNode([]byte(long)), inspectNode([]byte(long+"b"))
	if len(n1) > maxNodeLen || len(n2) > maxNodeLen || n1 == n2 || schema.Sanitize(n1) != n1 {
		t.Errorf("long names: %q %q", n1, n2)
	}
	a := newInspectAgg("cdn", "www", feedDomains, time.Minute, false)
	r := inspectAdd(t, a, domainFeed, []byte(`{"Data":[{"recorded":1700000040,"aggregated":{
		"A.b":{"requests":1},"a_b":{"requests":2},"a.B":{"requests":4}}}],"Timestamp":1700000041}`))
	if len(r.clashes) != 2 {
		t.Errorf("clashes %v, want 2 (a_b and a.B onto A.b's node)", r.clashes)
	}
	got := pointMap(t, inspectAdd(t, a, domainFeed, closeBucket).points)
	wantPoints(t, got, map[string]float64{"cdn.fastly.www.all.domains.a_b.requests@1700000040": 7})
}

// Impossible values make only their field unknown; a POP whose value is not
// an object costs only that POP; a bad aggregate costs the second.
func TestInspectBadValues(t *testing.T) {
	a := newInspectAgg("cdn", "www", feedOrigins, time.Minute, true)
	r := inspectAdd(t, a, originFeed, []byte(`{"Data":[
		{"recorded":1700000040,"aggregated":{"o":{"responses":-5,"resp_body_bytes":10,"latency_1_to_5ms":"x"}},
		 "datacenter":{"LHR":{"o":{"responses":2}},"IAD":[1]}},
		{"recorded":1700000041,"aggregated":[],"datacenter":{}}],"Timestamp":1700000041}`))
	if len(r.skipped) != 2 || !strings.Contains(r.skipped[0], `POP "IAD"`) || !strings.Contains(r.skipped[1], "aggregated is not an object") {
		t.Fatalf("skipped %q", r.skipped)
	}
	got := pointMap(t, inspectAdd(t, a, originFeed, closeBucket).points)
	// The impossible values reach the pipeline as NaN, which rejects and
	// counts them (rejected_values); the rest of the series stays.
	for _, m := range []string{"responses", "latency_1_to_5ms"} {
		if v, ok := got["cdn.fastly.www.all.origins.o."+m+"@1700000040"]; !ok || !math.IsNaN(v) {
			t.Errorf("%s = %v (written %v), want NaN for the pipeline to reject", m, v, ok)
		}
	}
	if _, ok := got["cdn.fastly.www.all.origins.o.latency_p50_ms@1700000040"]; ok {
		t.Error("percentile written with an unknown bucket")
	}
	wantPoints(t, got, map[string]float64{
		"cdn.fastly.www.all.origins.o.origin_bytes@1700000040": 10,
		"cdn.fastly.www.lhr.origins.o.responses@1700000040":    2,
	})
}

// The historical feed: pages followed by meta.next_cursor, minutes outside
// the window left out, the percentiles from each minute's buckets; the
// domain feed, whose product the account lacks, is never asked for.
func TestInspectHistoricalPagesAndEntitlement(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("/entitled-products/origin_inspector", func(w http.ResponseWriter, r *http.Request) {
		w.Write(collectorstest.ReadTestdata(t, "entitled-products-origin_inspector.constructed.json"))
	})
	f.mux.HandleFunc("/entitled-products/domain_inspector", func(w http.ResponseWriter, r *http.Request) {
		w.Write(collectorstest.ReadTestdata(t, "entitled-products-domain_inspector.constructed.json"))
	})
	f.mux.HandleFunc("/metrics/origins/services/SVC1", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("downsample") != "minute" || q.Get("group_by") != "host" || q.Get("start") != "1700000040" || q.Get("end") != "1700000160" {
			t.Errorf("query %s", r.URL.RawQuery)
		}
		switch q.Get("cursor") {
		case "":
			w.Write(collectorstest.ReadTestdata(t, "metrics-origins-minute-page1.constructed.json"))
		case "eyJwYWdlIjoyfQ":
			w.Write(collectorstest.ReadTestdata(t, "metrics-origins-minute-page2.constructed.json"))
		default:
			t.Errorf("cursor %q", q.Get("cursor"))
		}
	})
	f.mux.HandleFunc("/stats/service/SVC1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, statsBody()) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "SVC1", Name: "www"})
	c.o.OriginInspector, c.o.DomainInspector = true, true
	c.env.Prefix = "cdn"
	c.o.Regions = nil
	var rec recorder
	w := collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000160, 0)}
	if err := c.Collect(context.Background(), w, &rec); err != nil {
		t.Fatal(err)
	}
	var pts []schema.Point
	for _, b := range rec.Batches() {
		pts = append(pts, b.Points...)
	}
	got := pointMap(t, pts)
	o := "cdn.fastly.www.all.origins.origin_example_com."
	ip := "cdn.fastly.www.all.origins.10_0_0_7_8443."
	wantPoints(t, got, map[string]float64{
		o + "responses@1700000040":    30,
		o + "origin_bytes@1700000040": 153000,
		o + "status_5xx@1700000040":   2,
		// 30 in 1–5, 5–10, 10–50 (10 each): rank 15 in 5–10, rank 28.5 in 10–50.
		o + "latency_p50_ms@1700000040": 5 + 5*(15.0-10)/10,
		o + "latency_p95_ms@1700000040": 10 + 40*(28.5-20)/10,
		o + "responses@1700000100":      20,
		// 19 in 100–250, 1 in 60000+: rank 10 and 19 both in 100–250.
		o + "latency_p50_ms@1700000100":  100 + 150*10.0/19,
		o + "latency_p95_ms@1700000100":  250,
		ip + "responses@1700000040":      5,
		ip + "status_4xx@1700000040":     5,
		ip + "latency_p50_ms@1700000040": 250 + 250*2.5/5,
	})
	if _, ok := got[o+"responses@1700000160"]; ok {
		t.Error("minute at the window's end written")
	}
	for _, p := range f.requests() {
		if strings.Contains(p, "/domains/") {
			t.Errorf("domain feed asked for without the product: %s", p)
		}
	}
	if n := strings.Count(logs.String(), "Domain Inspector not available"); n != 1 {
		t.Errorf("%d 'not available' lines, want 1:\n%s", n, logs.String())
	}
	// A second run asks the entitlement API no more (cached) and logs no more.
	if err := c.Collect(context.Background(), w, &rec); err != nil {
		t.Fatal(err)
	}
	ent := 0
	for _, p := range f.requests() {
		if strings.HasPrefix(p, "/entitled-products/") {
			ent++
		}
	}
	if ent != 2 || strings.Count(logs.String(), "Domain Inspector not available") != 1 {
		t.Errorf("entitlement asked %d times (want 2), log:\n%s", ent, logs.String())
	}
}

// The real-time subscriber asks /v1/origins/{id}/ts/0, then passes back
// the Timestamp, and writes the bucket once due; a service without the
// product is never polled.
func TestInspectSubscriberFollowsTimestamp(t *testing.T) {
	f := newFake(t)
	var mu sync.Mutex
	var paths []string
	f.mux.HandleFunc("/entitled-products/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"has_access":%v,"product":{"id":%q}}`, strings.HasSuffix(r.URL.Path, "origin_inspector"), strings.TrimPrefix(r.URL.Path, "/entitled-products/"))
	})
	f.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		n := len(paths)
		mu.Unlock()
		if n == 1 {
			w.Write(collectorstest.ReadTestdata(t, "rt-origins-ts-response.constructed.json"))
			return
		}
		w.Write(closeBucket)
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "SVC1", Name: "www"})
	c.o.OriginInspector, c.o.DomainInspector = true, true
	c.env.Prefix = "cdn"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The hook must not cancel: the domain subscriber (no product) spins
	// through it and would stop the origin subscriber before it reads its
	// second answer. It waits a moment; the test stops the run once the
	// bucket is out.
	c.sleep = func(ctx context.Context, _ time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
	}
	var rec recorder
	var wg sync.WaitGroup
	c.startInspectors(ctx, service{id: "SVC1", name: "www"}, &rec, &wg)
	waitFor(t, 5*time.Second, "two polls", func() bool { mu.Lock(); defer mu.Unlock(); return len(paths) >= 2 })
	// The second answer makes the bucket due; its batch is emitted after the
	// server has seen the poll, so wait for it before stopping.
	waitFor(t, 5*time.Second, "the bucket", func() bool {
		for _, b := range rec.Batches() {
			if len(b.Points) > 0 {
				return true
			}
		}
		return false
	})
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if paths[0] != "/v1/origins/SVC1/ts/0" || paths[1] != "/v1/origins/SVC1/ts/1700000041" {
		t.Errorf("paths %v", paths)
	}
	for _, p := range paths {
		if strings.Contains(p, "/domains/") {
			t.Errorf("domain feed polled without the product: %s", p)
		}
	}
	got := map[string]float64{}
	for _, b := range rec.Batches() {
		for _, p := range b.Points {
			got[fmt.Sprintf("%s@%d", p.Path, p.Time)] = p.Value
		}
	}
	wantPoints(t, got, map[string]float64{"cdn.fastly.www.all.origins.origin_example_com.responses@1700000040": 10})
}

func TestDecodeEntitled(t *testing.T) {
	if has, err := decodeEntitled(collectorstest.ReadTestdata(t, "entitled-products-origin_inspector.constructed.json"), productOrigin); !has || err != nil {
		t.Errorf("origin: %v %v", has, err)
	}
	for _, body := range []string{`{}`, `{"has_access":"yes"}`, `{"has_access":true,"product":{"id":"other"}}`, `<html>`} {
		if _, err := decodeEntitled([]byte(body), productOrigin); err == nil {
			t.Errorf("%s accepted", body)
		}
	}
}

// Every subscriber starts at once: the entitlement API is asked once per
// product, not once per service.
func TestEntitlementAskedOnceForConcurrentSubscribers(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("/entitled-products/origin_inspector", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // long enough for every caller to be waiting
		w.Write(collectorstest.ReadTestdata(t, "entitled-products-origin_inspector.constructed.json"))
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !c.hasFeed(context.Background(), service{id: fmt.Sprint("S", i), name: fmt.Sprint("s", i)}, originFeed) {
				t.Error("not entitled")
			}
		}()
	}
	wg.Wait()
	if n := len(f.requests()); n != 1 {
		t.Errorf("entitlement asked %d times, want 1", n)
	}
	if n := strings.Count(logs.String(), "Origin Inspector available"); n != 20 {
		t.Errorf("%d 'available' lines, want one per service (20)", n)
	}
}

// Stream starts an inspector subscriber beside each service's channel
// subscriber, for the feeds the service has, and stops them with it.
func TestStreamStartsInspectorSubscribers(t *testing.T) {
	f := newFake(t)
	var origins atomic.Int64
	f.mux.HandleFunc("/service", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"id":"SVC1","name":"www","version":3}]`)
	})
	f.mux.HandleFunc("/entitled-products/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"has_access":%v}`, strings.HasSuffix(r.URL.Path, "origin_inspector"))
	})
	f.mux.HandleFunc("/v1/channel/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"Data":[],"Timestamp":1700000041,"AggregateDelay":5}`)
	})
	f.mux.HandleFunc("/v1/origins/SVC1/ts/", func(w http.ResponseWriter, r *http.Request) {
		if origins.Add(1) == 1 {
			w.Write(collectorstest.ReadTestdata(t, "rt-origins-ts-response.constructed.json"))
			return
		}
		w.Write(closeBucket)
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil)
	c.o.OriginInspector, c.o.DomainInspector = true, true
	c.env.Prefix = "cdn"
	c.idle = 5 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rec recorder
	done := make(chan error, 1)
	go func() { done <- c.Stream(ctx, &rec) }()
	waitFor(t, 8*time.Second, "origin points", func() bool {
		for _, b := range rec.Batches() {
			if len(b.Points) > 0 {
				return true
			}
		}
		return false
	})
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Stream did not stop its inspector subscribers")
	}
	got := map[string]float64{}
	for _, b := range rec.Batches() {
		for _, p := range b.Points {
			got[fmt.Sprintf("%s@%d", p.Path, p.Time)] = p.Value
		}
	}
	wantPoints(t, got, map[string]float64{"cdn.fastly.www.all.origins.s3_bucket_assets.responses@1700000040": 2})
	for _, p := range f.requests() {
		if strings.HasPrefix(p, "/v1/domains/") {
			t.Errorf("domain feed polled without the product: %s", p)
		}
	}
}

// The verdict is logged once per service, and again when Fastly's answer
// changes (asked again after the 10 min the answer is kept).
func TestEntitlementVerdictLoggedOnceAndOnChange(t *testing.T) {
	f := newFake(t)
	var has atomic.Bool
	has.Store(true)
	f.mux.HandleFunc("/entitled-products/origin_inspector", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"has_access":%v}`, has.Load())
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil)
	now := time.Unix(1700000000, 0)
	c.now = func() time.Time { return now }
	s := service{id: "S1", name: "www"}
	for range 3 {
		if !c.hasFeed(context.Background(), s, originFeed) {
			t.Fatal("not entitled")
		}
	}
	has.Store(false)
	now = now.Add(entitlementTTL + time.Second)
	for range 3 {
		if c.hasFeed(context.Background(), s, originFeed) {
			t.Fatal("still entitled after the answer changed")
		}
	}
	if a, n := strings.Count(logs.String(), "Origin Inspector available"), strings.Count(logs.String(), "Origin Inspector not available"); a != 1 || n != 1 {
		t.Errorf("%d 'available' and %d 'not available' lines, want 1 each:\n%s", a, n, logs.String())
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("entitlement asked %d times, want 2 (once per 10 min)", n)
	}
}

// A POP code is Fastly's text: one that sanitises to "all" must not be
// folded into location all a second time (on top of Fastly's aggregate);
// it keeps a location of its own.
func TestInspectPOPNamedAll(t *testing.T) {
	a := newInspectAgg("cdn", "www", feedOrigins, time.Minute, true)
	first := inspectAdd(t, a, originFeed, []byte(`{"Data":[{"recorded":1700000040,
		"aggregated":{"o1":{"responses":4}},
		"datacenter":{"ALL":{"o1":{"responses":3}},"LHR":{"o1":{"responses":1}}}}],"Timestamp":1700000041,"AggregateDelay":5}`))
	// Reported once, for the stream to warn about and count.
	if fmt.Sprint(first.renamed) != "[ALL]" {
		t.Errorf("renamed %q, want [ALL]", first.renamed)
	}
	closed := inspectAdd(t, a, originFeed, closeBucket)
	if len(closed.renamed) != 0 {
		t.Errorf("renamed again: %q", closed.renamed)
	}
	got := pointMap(t, closed.points)
	wantPoints(t, got, map[string]float64{
		"cdn.fastly.www.all.origins.o1.responses@1700000040":     4, // Fastly's aggregate, once
		"cdn.fastly.www.pop_all.origins.o1.responses@1700000040": 3,
		"cdn.fastly.www.lhr.origins.o1.responses@1700000040":     1,
	})
}

// A historical inspector value stamped ahead of our clock is a vendor
// clock or unit mistake: counted in rejected_future with a warning, as the
// channel's historical rows are, not dropped without a word.
func TestInspectHistoricalRejectsFuture(t *testing.T) {
	f := newFake(t)
	entitleOriginsOnly(t, f)
	f.mux.HandleFunc("/metrics/origins/services/SVC1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","meta":{"next_cursor":""},"data":[{"dimensions":{"host":"o1"},"values":[
			{"timestamp":1700000040,"responses":5},{"timestamp":4102444800,"responses":7}]}]}`)
	})
	f.mux.HandleFunc("/stats/service/SVC1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, statsBody()) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "SVC1", Name: "www"})
	c.o.OriginInspector = true
	c.o.Regions = nil
	counted := map[string]int{}
	var mu sync.Mutex
	c.env.Clock = collectors.Clock{Now: func() time.Time { return time.Unix(1700000400, 0) }, Reject: func(reason string, n int) {
		mu.Lock()
		defer mu.Unlock()
		counted[reason] += n
	}}
	w := collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000160, 0)}
	if err := c.Collect(context.Background(), w, &recorder{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if counted[collectors.RejectedFuture] != 1 {
		t.Errorf("counted %v, want %s: 1", counted, collectors.RejectedFuture)
	}
	if !strings.Contains(logs.String(), "ahead of our clock") {
		t.Errorf("no warning:\n%s", logs.String())
	}
}

// A count beyond 2^53 (schema.MaxCount) is as impossible as a negative
// one: raw points are only checked for finiteness downstream, so the
// inspector must poison it (NaN) itself rather than write 1e300.
func TestInspectHugeValueRejected(t *testing.T) {
	a := newInspectAgg("cdn", "www", feedOrigins, time.Minute, false)
	inspectAdd(t, a, originFeed, []byte(`{"Data":[{"recorded":1700000040,
		"aggregated":{"o":{"responses":1e300,"resp_body_bytes":10}}}],"Timestamp":1700000041}`))
	got := pointMap(t, inspectAdd(t, a, originFeed, closeBucket).points)
	if v, ok := got["cdn.fastly.www.all.origins.o.responses@1700000040"]; !ok || !math.IsNaN(v) {
		t.Errorf("responses = %v (written %v), want NaN for the pipeline to reject", v, ok)
	}
	wantPoints(t, got, map[string]float64{"cdn.fastly.www.all.origins.o.origin_bytes@1700000040": 10})
}

// Grouped by datacenter, the historical API has no aggregate: location
// all is the sum of the POPs' entries (worked out by hand), and each POP
// is written too, a POP named like a reserved location renamed.
func TestInspectHistoricalPerPOPWritesAllToo(t *testing.T) {
	body := []byte(`{"status":"success","msg":null,"meta":{"next_cursor":null},"data":[
		{"dimensions":{"host":"o1","datacenter":"LHR"},"values":[{"timestamp":1700000040,"responses":3,"status_2xx":3,"latency_10_to_50ms":3}]},
		{"dimensions":{"host":"o1","datacenter":"ALL"},"values":[{"timestamp":1700000040,"responses":1,"status_5xx":1,"latency_1000_to_5000ms":1}]}]}`)
	w := collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000100, 0)}
	var h inspectHist
	if _, skipped, err := parseInspectHist(body, originFeed, true, w, &h); err != nil || len(skipped) > 0 {
		t.Fatalf("err %v, skipped %v", err, skipped)
	}
	got := pointMap(t, h.points("cdn", "www", feedOrigins, nil))
	const at = "@1700000040"
	wantPoints(t, got, map[string]float64{
		"cdn.fastly.www.all.origins.o1.responses" + at:  4,
		"cdn.fastly.www.all.origins.o1.status_2xx" + at: 3,
		"cdn.fastly.www.all.origins.o1.status_5xx" + at: 1,
		// 4 responses: 3 in 10–50, 1 in 1000–5000; rank 3.8 → 1000 + 4000×0.8.
		"cdn.fastly.www.all.origins.o1.latency_p95_ms" + at:     1000 + 4000*0.8,
		"cdn.fastly.www.lhr.origins.o1.responses" + at:          3,
		"cdn.fastly.www.lhr.origins.o1.latency_p95_ms" + at:     10 + 40*2.85/3,
		"cdn.fastly.www.pop_all.origins.o1.responses" + at:      1,
		"cdn.fastly.www.pop_all.origins.o1.latency_p50_ms" + at: 1000 + 4000*0.5,
	})
	if len(got) != 3*20 {
		t.Errorf("%d points, want 60 (all, lhr, pop_all × 20 metrics)", len(got))
	}
}

// Grouped by datacenter, a historical POP named like one of our reserved
// locations is written under pop_<node> (see above) and, as in the
// real-time feeds, warned about and counted in renamed_locations once per
// POP code, not per entry, page or run. Here the codes are ALL (three
// entries over two pages), rum_eu (one entry) and Origin, whose only value
// is before the window (nothing written under pop_origin, so nothing
// renamed); LHR is no reserved name. Two runs: 2 counted, 2 warnings.
func TestInspectHistoricalRenamedPOPsCounted(t *testing.T) {
	f := newFake(t)
	entitleOriginsOnly(t, f)
	f.mux.HandleFunc("/metrics/origins/services/SVC1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			fmt.Fprint(w, `{"status":"success","meta":{"next_cursor":"p2"},"data":[
				{"dimensions":{"host":"o1","datacenter":"ALL"},"values":[{"timestamp":1700000040,"responses":1}]},
				{"dimensions":{"host":"o1","datacenter":"LHR"},"values":[{"timestamp":1700000040,"responses":2}]},
				{"dimensions":{"host":"o2","datacenter":"ALL"},"values":[{"timestamp":1700000100,"responses":3}]}]}`)
			return
		}
		fmt.Fprint(w, `{"status":"success","meta":{"next_cursor":""},"data":[
			{"dimensions":{"host":"o1","datacenter":"rum_eu"},"values":[{"timestamp":1700000040,"responses":4}]},
			{"dimensions":{"host":"o2","datacenter":"ALL"},"values":[{"timestamp":1700000040,"responses":5}]},
			{"dimensions":{"host":"o1","datacenter":"Origin"},"values":[{"timestamp":1699999980,"responses":6}]}]}`)
	})
	f.mux.HandleFunc("/stats/service/SVC1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, statsBody()) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "SVC1", Name: "www"})
	c.o.OriginInspector, c.o.InspectorsPerPOP = true, true
	c.env.Prefix = "cdn"
	c.o.Regions = nil
	counted := map[string]int{}
	var mu sync.Mutex
	c.env.Clock = collectors.Clock{Now: func() time.Time { return time.Unix(1700000400, 0) }, Reject: func(reason string, n int) {
		mu.Lock()
		defer mu.Unlock()
		counted[reason] += n
	}}
	w := collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000160, 0)}
	var rec recorder
	for run := 0; run < 2; run++ {
		if err := c.Collect(context.Background(), w, &rec); err != nil {
			t.Fatal(err)
		}
	}
	var pts []schema.Point
	for _, b := range rec.Batches() {
		pts = append(pts, b.Points...)
	}
	got := pointMap(t, pts)
	wantPoints(t, got, map[string]float64{
		"cdn.fastly.www.pop_all.origins.o1.responses@1700000040":    1,
		"cdn.fastly.www.pop_all.origins.o2.responses@1700000040":    5,
		"cdn.fastly.www.pop_all.origins.o2.responses@1700000100":    3,
		"cdn.fastly.www.pop_rum_eu.origins.o1.responses@1700000040": 4,
	})
	mu.Lock()
	defer mu.Unlock()
	if counted[collectors.RenamedLocations] != 2 {
		t.Errorf("counted %v, want %s: 2 (ALL, rum_eu)", counted, collectors.RenamedLocations)
	}
	l := logs.String()
	if n := strings.Count(l, "POP named like a reserved location"); n != 2 || !strings.Contains(l, "pop=ALL") || !strings.Contains(l, "pop=rum_eu") || strings.Contains(l, "pop=Origin") {
		t.Errorf("%d rename warnings, want 2 (ALL, rum_eu):\n%s", n, l)
	}
}

// The inspectors' buckets follow the real-time stream's rule: opening the
// next interval drops the oldest emitted bucket once keep+1 are held, and
// a second of it arriving later is refused (TestOldestBucketDroppedWhenIntervalOpens).
func TestInspectOldestBucketDroppedWhenIntervalOpens(t *testing.T) {
	const base = int64(1700000040) // a minute start
	a := newInspectAgg("cdn", "www", feedOrigins, time.Minute, true)
	a.first = base
	if a.keep != 2 {
		t.Fatalf("keep = %d, want 2 at 60 s", a.keep)
	}
	// Minutes 0 and 1 emitted, 2 open: keep+1 buckets.
	for m := int64(0); m < 3; m++ {
		b, why := a.bucket(base + 60*m)
		if b == nil {
			t.Fatalf("minute %d: %s", m, why)
		}
		b.emitted = m < 2
	}
	if len(a.buckets) != 3 {
		t.Fatalf("%d buckets before minute 3, want 3", len(a.buckets))
	}
	if b, why := a.bucket(base + 180); b == nil {
		t.Fatalf("minute 3: %s", why)
	}
	if len(a.buckets) != 3 || a.buckets[0].start != base+60 {
		t.Fatalf("after minute 3 opened: %d buckets, first at +%d, want 3 from +60", len(a.buckets), a.buckets[0].start-base)
	}
	if b, why := a.bucket(base); b != nil || !strings.Contains(why, "dropped") {
		t.Fatalf("minute 0 after it was dropped: %v, %q", b != nil, why)
	}
	// An oldest bucket changed since it was emitted (dirty) stays until it
	// is re-emitted: minute 1 now, when minute 4 opens.
	a.buckets[0].dirty = true
	if b, why := a.bucket(base + 240); b == nil {
		t.Fatalf("minute 4: %s", why)
	}
	if len(a.buckets) != 4 || a.buckets[0].start != base+60 {
		t.Fatalf("a dirty oldest bucket was dropped: %d buckets, first at +%d", len(a.buckets), a.buckets[0].start-base)
	}
}

// entitleOriginsOnly makes f's account entitled to the Origin Inspector
// and not to the Domain Inspector.
func entitleOriginsOnly(t *testing.T, f *fake) {
	f.mux.HandleFunc("/entitled-products/origin_inspector", func(w http.ResponseWriter, r *http.Request) {
		w.Write(collectorstest.ReadTestdata(t, "entitled-products-origin_inspector.constructed.json"))
	})
	f.mux.HandleFunc("/entitled-products/domain_inspector", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
}
