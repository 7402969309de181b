package fastly

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

// One impossible field costs only that field, counted in rejected_values:
// a historical row with "status_5xx":-5, edge header bytes of -7, misses
// that are not a number and hits above requests keeps its requests, its
// other statuses and its origin bytes (issue 16 items 1 and 15).
func TestHistoricalImpossibleFieldKeepsRow(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","msg":null,"data":[
			{"start_time":1700000040,"requests":10,"hits":12,"miss":"x","status_2xx":9,"status_5xx":-5,
			 "edge_resp_header_bytes":-7,"edge_resp_body_bytes":100,"origin_fetch_resp_header_bytes":20,"origin_fetch_resp_body_bytes":180}]}`)
	})
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "S1", Name: "www"})
	c.o.Regions = nil
	pipe := collectorstest.NewPipe()
	if err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000100, 0)}, pipe.Emitter("fastly")); err != nil {
		t.Fatal(err)
	}
	got := pipe.Lines(t)
	const at = "@1700000040"
	for path, want := range map[string]float64{
		"cdn.fastly.www.all.requests":     10,
		"cdn.fastly.www.all.status_2xx":   9,
		"cdn.fastly.www.all.origin_bytes": 200,
	} {
		if v, ok := got[path+at]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", path, v, ok, want)
		}
	}
	for _, path := range []string{"cdn.fastly.www.all.status_5xx", "cdn.fastly.www.all.edge_bytes", "cdn.fastly.www.all.hits", "cdn.fastly.www.all.misses"} {
		if v, ok := got[path+at]; ok {
			t.Errorf("%s = %v emitted; it was impossible", path, v)
		}
	}
	// status_5xx, edge_bytes (its header part), misses, hits (above requests).
	if v := got["cdn.cdnmetrics.collector.fastly.rejected_values"]; v != 4 {
		t.Errorf("rejected_values = %v, want 4\n%s", v, pipe.Log())
	}
	if strings.Contains(logs.String(), "rows skipped") {
		t.Errorf("a row was skipped: %s", logs.String())
	}
}

// A real-time second with one impossible field keeps its other fields, in
// the aggregate and in its POP: only status_5xx becomes unknown and is
// counted in rejected_values (once for "all", once for the POP).
func TestRealTimeImpossibleFieldKeepsSecond(t *testing.T) {
	agg := newAggregator("www", time.Minute)
	agg.first = 1
	res := decodeAdd(t, agg, []byte(`{"Data":[
		{"datacenter":{"AAA":{"requests":10,"status_2xx":4,"status_5xx":-5}},"aggregated":{"requests":10,"status_2xx":4,"status_5xx":-5},"recorded":1700000000},
		{"datacenter":{"AAA":{"requests":2,"status_5xx":1}},"aggregated":{"requests":2,"status_5xx":1},"recorded":1700000001}
	],"Timestamp":1700000100,"AggregateDelay":9}`))
	if len(res.skipped) != 0 {
		t.Fatalf("skipped %q", res.skipped)
	}
	pipe := collectorstest.NewPipe()
	if err := pipe.Emitter("fastly").Emit(context.Background(), collectors.Batch{Records: res.recs}); err != nil {
		t.Fatal(err)
	}
	got := pipe.Lines(t)
	const at = "@1699999980" // the minute of 1700000000
	for _, loc := range []string{"all", "aaa"} {
		if v := got["cdn.fastly.www."+loc+".requests"+at]; v != 12 {
			t.Errorf("%s requests = %v, want 10+2", loc, v)
		}
		if v := got["cdn.fastly.www."+loc+".status_2xx"+at]; v != 4 {
			t.Errorf("%s status_2xx = %v, want 4", loc, v)
		}
		// -5 + 1 would be a plausible, wrong -4 (or, with more seconds, a
		// positive undercount): the minute's 5xx are unknown.
		if v, ok := got["cdn.fastly.www."+loc+".status_5xx"+at]; ok {
			t.Errorf("%s status_5xx = %v emitted", loc, v)
		}
	}
	if v := got["cdn.cdnmetrics.collector.fastly.rejected_values"]; v != 2 {
		t.Errorf("rejected_values = %v, want 2\n%s", v, pipe.Log())
	}
}

// A historical row stamped in 2100 is counted in rejected_future (before:
// dropped silently as outside the window); the row in the window stays
// (issue 16 items 1, 2).
func TestHistoricalFutureRowCounted(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","msg":null,"data":[
			{"start_time":1700000040,"requests":10},
			{"start_time":4102444800,"requests":7}]}`)
	})
	f.mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "S1", Name: "www"})
	c.o.Regions = nil
	pipe := collectorstest.NewPipe()
	c.env.Clock = pipe.Clock("fastly")
	if err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000100, 0)}, pipe.Emitter("fastly")); err != nil {
		t.Fatal(err)
	}
	got := pipe.Lines(t)
	if v := got["cdn.fastly.www.all.requests@1700000040"]; v != 10 {
		t.Errorf("requests = %v, want 10", v)
	}
	if v := got["cdn.cdnmetrics.collector.fastly.rejected_future"]; v != 1 {
		t.Errorf("rejected_future = %v, want 1\n%s", v, logs.String())
	}
	if !strings.Contains(logs.String(), "ahead of our clock") {
		t.Errorf("not logged: %s", logs.String())
	}
}
