package fastly

import (
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
