package cloudfront

import (
	"context"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// BenchmarkCollectSim is one scheduled run through the real SDK (SigV4,
// RPC v2 CBOR) against the stand-in: 3 distributions, an 11-minute window.
func BenchmarkCollectSim(b *testing.B) {
	m := traffic.Default(1)
	now := time.Unix(1767225600+3600, 0)
	c, _ := simSetup(b, m, now, collectors.SimSecret)
	w := collectors.Window{Start: now.Add(-16 * time.Minute), End: now.Add(-5 * time.Minute)}
	for b.Loop() {
		if err := c.Collect(context.Background(), w, &recorder{}); err != nil {
			b.Fatal(err)
		}
	}
}
