package cloudflare

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/cloudflare/cloudflaresim"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// BenchmarkMapColos maps one hour of the stand-in's per-colo rows for one
// zone (6 POPs, about 1,500 rows).
func BenchmarkMapColos(b *testing.B) {
	m := traffic.Default(1)
	start := time.Unix(1767225600, 0)
	var raw []json.RawMessage
	for t := start.Unix(); t < start.Unix()+3600; t += step {
		_, rows := cloudflaresim.Minute(m, 0, t)
		for _, r := range rows {
			j, _ := json.Marshal(r)
			raw = append(raw, j)
		}
	}
	for b.Loop() {
		if recs, _, bad, _ := mapColos("www", raw, start, start.Add(time.Hour)); len(recs) == 0 || len(bad) > 0 {
			b.Fatal("no records")
		}
	}
	b.ReportMetric(float64(len(raw)), "rows/op")
}

// BenchmarkCollectSim is one scheduled run against the stand-in: 3 zones,
// an 11-minute window (one new minute plus the 10-minute overlap).
func BenchmarkCollectSim(b *testing.B) {
	m := traffic.Default(1)
	now := time.Unix(1767225600+3600, 0)
	c := simSetup(b, m, now)
	w := collectors.Window{Start: now.Add(-16 * time.Minute), End: now.Add(-5 * time.Minute)}
	for b.Loop() {
		if err := c.Collect(context.Background(), w, &recorder{}); err != nil {
			b.Fatal(err)
		}
	}
}
