package bunny

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkParseAndMapDay parses and maps one pull zone's day (24 hourly
// buckets of the seven mapped charts and three unmapped ones), the largest
// answer one Collect call reads (MaxWindow).
func BenchmarkParseAndMapDay(b *testing.B) {
	charts := map[string]map[string]float64{}
	for _, name := range []string{"RequestsServedChart", "PullRequestsPulledChart", "BandwidthUsedChart", "OriginTrafficChart",
		"Error3xxChart", "Error4xxChart", "Error5xxChart", "BandwidthCachedChart", "CacheHitRateChart", "OriginShieldBandwidthUsedChart"} {
		c := map[string]float64{}
		for h := 0; h < 24; h++ {
			c[time.Unix(t10+int64(h)*3600, 0).UTC().Format(timeLayout)] = float64(1000000 + h)
		}
		charts[name] = c
	}
	body, _ := json.Marshal(charts)
	start := time.Unix(t10, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st, err := parseStats(body)
		if err != nil {
			b.Fatal(err)
		}
		if recs, _, _, _, _ := mapStats("z", st, start, start.Add(24*time.Hour), start.Add(24*time.Hour)); len(recs) != 24 {
			b.Fatalf("%d records", len(recs))
		}
	}
}
