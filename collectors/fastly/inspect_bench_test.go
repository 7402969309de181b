package fastly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// inspectBody is an Origin Inspector answer of pops POPs × origins
// origins with the fields a busy origin reports (zeros omitted, as
// Fastly does): counts, per-code statuses, and all 12 latency buckets.
func inspectBody(pops, origins int, recorded int64) []byte {
	var b bytes.Buffer
	entry := func(i int) string {
		return fmt.Sprintf(`{"responses":%d,"resp_header_bytes":%d,"resp_body_bytes":%d,"status_2xx":%d,"status_200":%d,"status_3xx":1,"status_304":1,"status_4xx":1,"status_404":1,"status_5xx":1,"status_503":1,`+
			`"latency_0_to_1ms":1,"latency_1_to_5ms":2,"latency_5_to_10ms":3,"latency_10_to_50ms":%d,"latency_50_to_100ms":5,"latency_100_to_250ms":4,"latency_250_to_500ms":3,`+
			`"latency_500_to_1000ms":2,"latency_1000_to_5000ms":1,"latency_5000_to_10000ms":1,"latency_10000_to_60000ms":1,"latency_60000ms":1}`,
			30+i, 300*(30+i), 9000*(30+i), 26+i, 26+i, 6+i)
	}
	b.WriteString(`{"Data":[{"datacenter":{`)
	for p := range pops {
		if p > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"P%02d":{`, p)
		for o := range origins {
			if o > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"origin-%d.example.com":%s`, o, entry(p+o))
		}
		b.WriteByte('}')
	}
	b.WriteString(`},"aggregated":{`)
	for o := range origins {
		if o > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"origin-%d.example.com":%s`, o, entry(o))
	}
	fmt.Fprintf(&b, `},"recorded":%d}],"Timestamp":%d,"AggregateDelay":5}`, recorded, recorded+1)
	return b.Bytes()
}

// BenchmarkInspectDecode: one Origin Inspector response (100 POPs × 4
// origins) decoded and folded into a 60 s bucket per POP, as `run` does
// with inspectors_per_pop; compare BenchmarkInspectDecodeStdlib.
func BenchmarkInspectDecode(b *testing.B) {
	bodies := make([][]byte, 60)
	for i := range bodies {
		bodies[i] = inspectBody(100, 4, 1700000040+int64(i))
	}
	a := newInspectAgg("cdn", "www", feedOrigins, time.Minute, true)
	var f iFrame
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := decodeInspect(bodies[i%len(bodies)], lookupOrigin, &f); err != nil {
			b.Fatal(err)
		}
		a.add(&f)
		f.release()
	}
}

// BenchmarkInspectDecodeStdlib: the same bodies through encoding/json into
// maps, as a generic client reads them.
func BenchmarkInspectDecodeStdlib(b *testing.B) {
	body := inspectBody(100, 4, 1700000040)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for range b.N {
		var r refInspect
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestInspectBenchBodyDecodes(t *testing.T) {
	var f iFrame
	if err := decodeInspect(inspectBody(3, 2, 1700000040), lookupOrigin, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.records) != 1 || f.records[0].dcEnd-f.records[0].dcFirst != 6 || f.records[0].aggEnd-f.records[0].aggFirst != 2 {
		t.Fatalf("%+v", f.records)
	}
}
