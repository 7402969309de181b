package graphite

import (
	"fmt"
	"testing"

	graphite "github.com/marpaia/graphite-golang"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func benchPoints() []schema.Point {
	pts := make([]schema.Point, 1000)
	for i := range pts {
		pts[i] = schema.Point{Path: fmt.Sprintf("cdn.fastly.service_%d.fra.hit_ratio", i%50), Value: 0.9 + float64(i)/1e5, Time: 1700000000 + int64(i)}
	}
	return pts
}

// BenchmarkFormat measures what Send does per point: check it and turn it
// into the library's Metric (value text via strconv 'g'/-1).
func BenchmarkFormat(b *testing.B) {
	pts := benchPoints()
	ms := make([]graphite.Metric, 0, len(pts))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ms = ms[:0]
		for i := range pts {
			if checkPoint(&pts[i]) == nil {
				ms = append(ms, toMetric(&pts[i]))
			}
		}
	}
	b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAppendLine measures the line encoder used by the spool and the
// dry-run writer.
func BenchmarkAppendLine(b *testing.B) {
	pts := benchPoints()
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i := range pts {
			buf = AppendLine(buf, pts[i])
		}
	}
	b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "points/s")
	b.SetBytes(int64(len(buf)))
}
