package fastly

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

// refInspect is an inspector answer as encoding/json reads it: the
// reference decodeInspect is checked against.
type refInspect struct {
	Data []struct {
		Datacenter map[string]map[string]map[string]any `json:"datacenter"`
		Aggregated map[string]map[string]any            `json:"aggregated"`
		Recorded   int64                                `json:"recorded"`
	} `json:"Data"`
	Timestamp      int64  `json:"Timestamp"`
	AggregateDelay int64  `json:"AggregateDelay"`
	Error          string `json:"Error"`
}

// FuzzInspectResponse: any body decodes without panicking with either
// feed's fields; whenever encoding/json reads it unambiguously, the fast
// decoder reads the same values; aggregation stays bounded, never writes a
// negative count or a percentile outside the buckets, and every path
// element it writes is one safe node.
func FuzzInspectResponse(f *testing.F) {
	f.Add(collectorstest.ReadTestdata(f, "rt-origins-ts-response.constructed.json"), false)
	f.Add(collectorstest.ReadTestdata(f, "rt-domains-ts-response.constructed.json"), true)
	f.Add([]byte(`{"Data":[{"aggregated":{"a.b":{"responses":-1,"latency_60000ms":2}},"recorded":5}],"Timestamp":9}`), false)
	f.Add([]byte(`{"data":[{"datacenter":{"L\u0048R":{"x;y=z":{"requ\u0065sts":1e2,"q":[{}]},"n":null}},"recorded":60}],"timestamp":99,"aggregatedelay":1}`), true)
	f.Fuzz(func(t *testing.T, body []byte, domains bool) {
		fd := originFeed
		if domains {
			fd = domainFeed
		}
		var fr iFrame
		err := decodeInspect(body, fd.lookup, &fr)
		if ref, ok := stdlibInspect(body); ok {
			if err != nil {
				t.Fatalf("encoding/json reads it, decodeInspect fails: %v", err)
			}
			compareInspect(t, &fr, ref, fd)
		}
		if err != nil {
			return
		}
		agg := newInspectAgg("cdn", "s", fd.name, 10*time.Second, true)
		agg.ours = collectors.Clock{Now: func() time.Time { return time.Unix(1<<40, 0) }}
		for range 2 {
			res := agg.add(&fr)
			for _, p := range res.points {
				// NaN (an impossible value) and +Inf (a sum beyond float64)
				// are on their way to the pipeline's value check, which
				// rejects and counts every non-finite point; a finite
				// value must be a possible count.
				if p.Value < 0 {
					t.Fatalf("%s = %v", p.Path, p.Value)
				}
				if strings.HasSuffix(p.Path, "_ms") && strings.Contains(p.Path, "latency_p") && p.Value > 60000 {
					t.Fatalf("%s = %v beyond the last bucket", p.Path, p.Value)
				}
				el := strings.Split(p.Path, ".")
				if len(el) != 7 {
					t.Fatalf("path %q has %d elements", p.Path, len(el))
				}
				for _, e := range el {
					if e == "" || len(e) > maxNodeLen || strings.Trim(e, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
						t.Fatalf("path %q: element %q is not a safe node", p.Path, e)
					}
				}
			}
			if len(agg.buckets) > maxOpen+agg.keep {
				t.Fatalf("%d buckets", len(agg.buckets))
			}
		}
	})
}

func stdlibInspect(body []byte) (*refInspect, bool) {
	for _, c := range body {
		if c >= utf8.RuneSelf {
			return nil, false
		}
	}
	if !json.Valid(body) || hasDuplicateKeys(body) {
		return nil, false
	}
	var ref refInspect
	if err := json.Unmarshal(body, &ref); err != nil {
		return nil, false
	}
	return &ref, true
}

func compareInspect(t *testing.T, f *iFrame, ref *refInspect, fd *inspectFeed) {
	t.Helper()
	if f.timestamp != ref.Timestamp || f.aggregateDelay != ref.AggregateDelay || string(f.errText) != ref.Error || len(f.records) != len(ref.Data) {
		t.Fatalf("envelope differs: ts %d/%d delay %d/%d err %q/%q records %d/%d",
			f.timestamp, ref.Timestamp, f.aggregateDelay, ref.AggregateDelay, f.errText, ref.Error, len(f.records), len(ref.Data))
	}
	for i, d := range ref.Data {
		r := &f.records[i]
		if d.Recorded > 0 && (!r.hasRecorded || r.recorded != d.Recorded) {
			t.Fatalf("record %d: recorded %d/%v, want %d", i, r.recorded, r.hasRecorded, d.Recorded)
		}
		if d.Recorded > 0 && r.bad != "" {
			t.Fatalf("record %d: bad %q, encoding/json reads it", i, r.bad)
		}
		sameEntries(t, i, "aggregated", f.entries[r.aggFirst:r.aggEnd], map[string]map[string]map[string]any{"": d.Aggregated}, fd)
		sameEntries(t, i, "datacenter", f.entries[r.dcFirst:r.dcEnd], d.Datacenter, fd)
	}
}

// sameEntries checks that entries hold exactly the (POP, name) pairs of
// ref with the same mapped values (null: 0; not a number: NaN).
func sameEntries(t *testing.T, rec int, what string, entries []iEntry, ref map[string]map[string]map[string]any, fd *inspectFeed) {
	t.Helper()
	n := 0
	for pop, names := range ref {
		for name, vals := range names {
			n++
			var e *iEntry
			for j := range entries {
				if string(entries[j].name) == name && (what == "aggregated" || string(entries[j].pop) == pop) {
					e = &entries[j]
				}
			}
			if e == nil {
				t.Fatalf("record %d %s: no entry %q/%q", rec, what, pop, name)
			}
			var want ivals
			for k, v := range vals {
				fi := fd.lookup([]byte(k))
				if fi < 0 {
					continue
				}
				switch x := v.(type) {
				case float64:
					want.v[fi] = x
				case nil:
				default:
					want.v[fi] = math.NaN()
				}
			}
			for k := range want.v {
				a, b := e.v.v[k], want.v[k]
				if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
					t.Fatalf("record %d %s %q/%q field %d: %v, encoding/json %v", rec, what, pop, name, k, a, b)
				}
			}
		}
	}
	if n != len(entries) {
		t.Fatalf("record %d %s: %d entries, encoding/json %d", rec, what, len(entries), n)
	}
}

// FuzzInspectHistorical: any page parses without panicking; what it keeps
// is inside the window, never negative, under safe nodes.
func FuzzInspectHistorical(f *testing.F) {
	f.Add(collectorstest.ReadTestdata(f, "metrics-origins-minute-page1.constructed.json"), false, false)
	f.Add(collectorstest.ReadTestdata(f, "metrics-origins-minute-page2.constructed.json"), false, true)
	f.Add(collectorstest.ReadTestdata(f, "metrics-domains-minute.constructed.json"), true, false)
	f.Add([]byte(`{"data":[{"dimensions":{"domain":"x","datacenter":"LHR"},"values":[{"timestamp":1700000040,"requests":"7"},{"timestamp":1.5}]}],"meta":{"next_cursor":"c"}}`), true, true)
	f.Fuzz(func(t *testing.T, body []byte, domains, perPOP bool) {
		fd := originFeed
		if domains {
			fd = domainFeed
		}
		w := collectors.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000160, 0)}
		var h inspectHist
		if _, _, err := parseInspectHist(body, fd, perPOP, w, &h); err != nil {
			return
		}
		for _, p := range h.points("cdn", "s", fd.name, nil) {
			if p.Time < 1700000040 || p.Time >= 1700000160 || p.Time%60 != 0 {
				t.Fatalf("%s at %d outside the window", p.Path, p.Time)
			}
			if p.Value < 0 {
				t.Fatalf("%s = %v", p.Path, p.Value)
			}
			if el := strings.Split(p.Path, "."); len(el) != 7 {
				t.Fatalf("path %q", p.Path)
			}
		}
	})
}
