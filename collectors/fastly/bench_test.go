package fastly

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// rtPayload builds a real-time response like a busy service's: one second,
// pops POPs with fields numeric fields each (the mapped ones plus filler
// with real-looking names), a miss histogram, and the aggregate.
func rtPayload(pops, fields int, recorded int64) []byte {
	mapped := []string{"requests", "hits", "miss", "pass", "errors", "edge_resp_header_bytes", "edge_resp_body_bytes",
		"origin_fetches", "origin_fetch_resp_header_bytes", "origin_fetch_resp_body_bytes", "status_2xx", "status_3xx", "status_4xx", "status_5xx"}
	var entry bytes.Buffer
	entry.WriteByte('{')
	for i := 0; i < fields; i++ {
		if i > 0 {
			entry.WriteByte(',')
		}
		name := fmt.Sprintf("object_size_sub_%d_count", i)
		if i < len(mapped) {
			name = mapped[i]
		}
		fmt.Fprintf(&entry, "%q:%d", name, 1000+i*37)
	}
	entry.WriteString(`,"miss_histogram":{"0":12,"10":3,"20":8,"50":4,"100":2,"500":1}}`)
	var b bytes.Buffer
	b.WriteString(`{"Data":[{"datacenter":{`)
	for p := 0; p < pops; p++ {
		if p > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"P%02d":`, p)
		b.Write(entry.Bytes())
	}
	b.WriteString(`},"aggregated":`)
	b.Write(entry.Bytes())
	fmt.Fprintf(&b, `,"recorded":%d}],"Timestamp":%d,"AggregateDelay":9}`, recorded, recorded+1)
	return b.Bytes()
}

// BenchmarkRTDecodeAggregate is the per-response work of the real-time
// path at 100 POPs × 150 fields: decode, check, add into the bucket.
func BenchmarkRTDecodeAggregate(b *testing.B) {
	for _, fields := range []int{150, 40} {
		b.Run(fmt.Sprintf("pops=100/fields=%d", fields), func(b *testing.B) {
			payload := rtPayload(100, fields, 1700000000)
			agg := newAggregator("www", time.Minute)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			i := int64(0)
			for b.Loop() {
				// Each response one second later, as the stream delivers them.
				ans, err := parseRT(payload)
				if err != nil {
					b.Fatal(err)
				}
				ans.Data[0].Recorded += i
				ans.Timestamp += i
				agg.add(ans)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/response")
		})
	}
}
