package originlog

import (
	"reflect"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func TestReconcile(t *testing.T) {
	k := func(p string, s int64) Key { return Key{Provider: p, Service: "www", Start: s} }
	observed := map[Key]float64{
		k("fastly", 60):    90,  // vendor says 100: 90/100 = 0.9
		k("fastly", 0):     120, // vendor says 100: 1.2
		k("akamai", 0):     50,  // vendor says 0: no ratio
		k("direct", 0):     7,   // no vendor: no ratio
		k("cloudflare", 0): 0,   // origin saw none, vendor says 40: 0
	}
	reported := map[Key]float64{
		k("fastly", 60):    100,
		k("fastly", 0):     100,
		k("akamai", 0):     0,
		k("cloudflare", 0): 40,
		k("edgecast", 0):   10, // not observed: unknown, no ratio
	}
	g := func(p string, s int64, v float64) schema.Gauge {
		return schema.Gauge{Provider: p, Service: "www", Location: "origin", Metric: "origin_requests_delta_ratio", Time: s, Value: v}
	}
	want := []schema.Gauge{g("cloudflare", 0, 0), g("fastly", 0, 1.2), g("fastly", 60, 0.9)}
	if got := Reconcile(observed, reported); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := Reconcile(nil, reported); len(got) != 0 {
		t.Errorf("nothing observed: %v", got)
	}
	pts := schema.Points("cdn", nil, want[2:])
	if pts[0].Path != "cdn.fastly.www.origin.origin_requests_delta_ratio" {
		t.Errorf("path %s", pts[0].Path)
	}
}

func TestRollup(t *testing.T) {
	k := func(s int64) Key { return Key{Provider: "akamai", Service: "www", Start: s} }
	// minutes 0..4 → bucket 0: 1+2+3+4+5 = 15; minute 5 → bucket 300: 6
	in := map[Key]float64{k(0): 1, k(60): 2, k(120): 3, k(180): 4, k(240): 5, k(300): 6}
	got := Rollup(in, 300)
	want := map[Key]float64{k(0): 15, k(300): 6}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
