package akamai

import (
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

func FuzzReport(f *testing.F) {
	f.Add(collectorstest.ReadTestdata(f, "reporting-v2-traffic-current-response.constructed.json"))
	f.Add(collectorstest.ReadTestdata(f, "reporting-v2-error-400.constructed.json"))
	f.Add([]byte(`{"data":[{"time5minutes":300,"cpcode":"1","responseClass":"5xx","edgeHitsSum":"7"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseReport(body)
		if err != nil {
			return
		}
		counts, _ := trafficRows(r, map[int64]bool{1: true, 123456: true})
		addClasses(r, counts)
		for _, c := range counts {
			if v, ok := c.Get(0); ok && v < 0 {
				t.Fatal("negative requests kept")
			}
		}
		_ = problemText(string(body))
	})
}
