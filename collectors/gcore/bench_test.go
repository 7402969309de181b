package gcore

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseMapDay parses and maps the largest answer one request
// brings: 288 five-minute buckets × 9 regions × 10 metrics.
func BenchmarkParseMapDay(b *testing.B) {
	const start, step = 1767225600, 300
	var sb strings.Builder
	sb.WriteString(`{"resource":{"7":{"region":{`)
	for ri, reg := range []string{"na", "eu", "cis", "asia", "au", "latam", "me", "africa", "sa"} {
		if ri > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "%q:{\"metrics\":{", reg)
		for mi, m := range metrics {
			if mi > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, "%q:[", m)
			for i := 0; i < bucketsPerCall; i++ {
				if i > 0 {
					sb.WriteString(",")
				}
				v := 1000 + i
				if m == mTotal {
					v = 1 << 40
				}
				fmt.Fprintf(&sb, "[%d,%d]", start+i*step, v)
			}
			sb.WriteString("]")
		}
		sb.WriteString("}}")
	}
	sb.WriteString(`}}}}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a, err := parseSeries(body)
		if err != nil {
			b.Fatal(err)
		}
		recs, res := mapSeries("s", "7", a, step, start, start+bucketsPerCall*step)
		if len(recs) != 9*bucketsPerCall || len(res.bad)+res.rejected != 0 {
			b.Fatalf("%d records, %+v", len(recs), res)
		}
	}
}
