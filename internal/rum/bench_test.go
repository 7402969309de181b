package rum

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkBeacon100 parses and aggregates one beacon of 100 entries (the
// cap), the daemon's work per beacon after the HTTP layer.
func BenchmarkBeacon100(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, `{"provider":"fastly","pop":"LHR","cache":"HIT","connect_ms":%d,"tls_ms":9,"ttfb_ms":%d.5,"download_ms":4,"size":5120}`+"\n", 10+i%7, 20+i)
	}
	body := []byte(sb.String())
	a := NewAggregator([]string{"fastly"}, []string{"www"}, 300, quietCounters())
	t0 := time.Unix(1700000040, 0)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		es, _, _, err := parseBeacon(body, 100)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range es {
			a.Add(e, "gb", t0)
		}
	}
}
