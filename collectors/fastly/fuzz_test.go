package fastly

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func FuzzRTResponse(f *testing.F) {
	f.Add(sample(f, "rt-channel-ts-response.json"))
	f.Add(sample(f, "rt-channel-ts-nodata.json"))
	f.Add([]byte(`{"Data":[{"aggregated":{"requests":-1},"recorded":5}],"Timestamp":9}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := parseRT(body)
		if err != nil {
			return
		}
		agg := newAggregator("s", 10*time.Second)
		agg.add(ans)
		agg.add(ans) // replays must not panic either
	})
}

func FuzzHistorical(f *testing.F) {
	f.Add(sample(f, "stats-service-minute-response.constructed.json"))
	f.Add(sample(f, "stats-aggregate-minute.json"))
	f.Add(sample(f, "stats-service-minute-empty.json"))
	w := collectors.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, _, err := parseHistorical(body, "s", "all", w)
		if err != nil && len(recs) > 0 {
			t.Fatal("records with an error")
		}
		for _, r := range recs {
			if v, _ := r.Get(0); v < 0 {
				t.Fatalf("negative requests kept: %v", v)
			}
		}
	})
}

// FuzzRTFastPathMatchesEncodingJSON: whenever the fast scanner accepts a
// body, encoding/json must accept it too and read the same numbers.
func FuzzRTFastPathMatchesEncodingJSON(f *testing.F) {
	f.Add(sample(f, "rt-channel-ts-response.json"))
	f.Add(sample(f, "rt-channel-ts-nodata.json"))
	f.Add(rtPayload(3, 20, 1700000000))
	f.Add([]byte(`{"Data":[{"aggregated":{"requests":1e3,"hits":null,"x":[1,{"a":"\""}]},"recorded":5}],"Timestamp":9}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, err := decodeRT(body)
		if err != nil {
			return
		}
		var slow rtAnswer
		if err := json.Unmarshal(body, &slow); err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, body)
		}
		if fast.Timestamp != slow.Timestamp || fast.AggregateDelay != slow.AggregateDelay || len(fast.Data) != len(slow.Data) {
			t.Fatalf("header differs: fast %+v slow %+v", fast, slow)
		}
		for i := range fast.Data {
			a, b := fast.Data[i], slow.Data[i]
			if a.Recorded != b.Recorded || a.Aggregated != b.Aggregated || len(a.Datacenter) != len(b.Datacenter) {
				t.Fatalf("second %d differs: %+v vs %+v", i, a, b)
			}
			for pop, st := range a.Datacenter {
				if b.Datacenter[pop] != st {
					t.Fatalf("pop %s differs", pop)
				}
			}
		}
	})
}
