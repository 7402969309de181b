package fastly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly/fastlysim"
)

// benchFieldNames returns n measurement names taken from the samples: every
// key of the real-time sample's entries, then the historical row's numeric
// fields (the same namespace), sorted so the mapped ones are spread among
// the rest as in real responses.
func benchFieldNames(t testing.TB, n int) []string {
	seen := map[string]bool{}
	var rt struct {
		Data []struct {
			Datacenter map[string]map[string]any `json:"datacenter"`
			Aggregated map[string]any            `json:"aggregated"`
		} `json:"Data"`
	}
	if err := json.Unmarshal(collectorstest.ReadTestdata(t, "rt-channel-ts-response.json"), &rt); err != nil {
		t.Fatal(err)
	}
	for _, d := range rt.Data {
		for k := range d.Aggregated {
			seen[k] = true
		}
		for _, e := range d.Datacenter {
			for k := range e {
				seen[k] = true
			}
		}
	}
	var hist struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(collectorstest.ReadTestdata(t, "stats-aggregate-minute.json"), &hist); err != nil {
		t.Fatal(err)
	}
	for k, v := range hist.Data[0] {
		if _, num := v.(float64); num && k != keyStartTime && k != keyHitRatio {
			seen[k] = true
		}
	}
	names := make([]string, 0, len(seen))
	for k := range seen {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) < n {
		t.Fatalf("samples hold %d field names, want %d", len(names), n)
	}
	// Keep every mapped field, then fill up with the others.
	var out []string
	for _, k := range names {
		if lookupField([]byte(k)) >= 0 {
			out = append(out, k)
		}
	}
	for _, k := range names {
		if len(out) == n {
			break
		}
		if lookupField([]byte(k)) < 0 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// rtPayload builds a busy service's real-time response: one second, pops
// POPs with every field in names (integers; *_time fields as floats;
// miss_histogram as an object), and the aggregate.
func rtPayload(names []string, pops int, recorded int64) []byte {
	entry := func(seed int) []byte {
		var b bytes.Buffer
		b.WriteByte('{')
		for i, k := range names {
			if i > 0 {
				b.WriteByte(',')
			}
			v := (seed*131 + i*977) % 100000
			switch {
			case k == fastlysim.NoiseFields.Object:
				fmt.Fprintf(&b, `"%s":{"0":%d,"10":%d,"100":%d}`, k, v%7, v%11, v%13)
			case strings.HasSuffix(k, "_time"):
				fmt.Fprintf(&b, `"%s":%d.%03d`, k, v%50, v%1000)
			case k == "hits":
				fmt.Fprintf(&b, `"%s":%d`, k, 700+seed)
			case k == "requests":
				fmt.Fprintf(&b, `"%s":%d`, k, 1000+seed)
			default:
				fmt.Fprintf(&b, `"%s":%d`, k, v)
			}
		}
		b.WriteByte('}')
		return b.Bytes()
	}
	var b bytes.Buffer
	b.WriteString(`{"Data":[{"datacenter":{`)
	for p := 0; p < pops; p++ {
		if p > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%c%c%c":`, 'A'+p/26%26, 'A'+p%26, 'X'+p/676)
		b.Write(entry(p))
	}
	b.WriteString(`},"aggregated":`)
	b.Write(entry(pops))
	fmt.Fprintf(&b, `,"recorded":%d}],"Timestamp":%d,"AggregateDelay":9}`, recorded, recorded+10)
	return b.Bytes()
}

// BenchmarkRTDecodeAggregate is the per-response work of the real-time path
// for a busy service (100 POPs × 150 fields, ~365 KB): decode, check, and
// add into the open bucket. Each iteration is one response one second
// after the previous, so buckets close and recycle as in the stream.
func BenchmarkRTDecodeAggregate(b *testing.B) {
	b.Run("fast", func(b *testing.B) { benchRTDecodeAggregate(b, true) })
	b.Run("general", func(b *testing.B) { benchRTDecodeAggregate(b, false) })
}

// threadCPU is the CPU time the calling OS thread has used: with the
// benchmark goroutine locked to its thread, CPU per response that other
// processes on a busy machine do not inflate by preempting it (wall-clock
// ns/op does).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchRTDecodeAggregate(b *testing.B, fast bool) {
	defer func(old bool) { fastMembers = old }(fastMembers)
	fastMembers = fast
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	names := benchFieldNames(b, 150)
	const pops = 100
	base := int64(1700000000)
	// Pre-build a minute of responses so each iteration is a new second.
	payloads := make([][]byte, 60)
	for i := range payloads {
		payloads[i] = rtPayload(names, pops, base+int64(i))
	}
	agg := newAggregator("www", time.Minute)
	var f rtFrame
	b.SetBytes(int64(len(payloads[0])))
	b.ReportAllocs()
	n := 0
	cpu0 := threadCPU()
	for b.Loop() {
		if err := decodeRT(payloads[n%60], &f); err != nil {
			b.Fatal(err)
		}
		// The minute repeats: shift it so time moves on and buckets close.
		for i := range f.records {
			f.records[i].recorded += int64(n/60) * 60
		}
		f.timestamp += int64(n/60) * 60
		res := agg.add(&f)
		if len(res.skipped) > 0 {
			b.Fatal(res.skipped)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/response")
	b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/response")
}

// BenchmarkRTDecodeStdlib is the reference the fast path is measured
// against: encoding/json into a struct with one field per measurement
// (what fastly-exporter does with its generated 150-field struct), without
// even adding anything up.
func BenchmarkRTDecodeStdlib(b *testing.B) {
	names := benchFieldNames(b, 150)
	payload := rtPayload(names, 100, 1700000000)
	var fields []reflect.StructField
	for i, k := range names {
		typ := reflect.TypeFor[float64]()
		if k == fastlysim.NoiseFields.Object {
			typ = reflect.TypeFor[map[string]uint64]()
		}
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: typ, Tag: reflect.StructTag(fmt.Sprintf(`json:%q`, k))})
	}
	entry := reflect.StructOf(fields)
	rec := reflect.StructOf([]reflect.StructField{
		{Name: "Datacenter", Type: reflect.MapOf(reflect.TypeFor[string](), entry), Tag: `json:"datacenter"`},
		{Name: "Aggregated", Type: entry, Tag: `json:"aggregated"`},
		{Name: "Recorded", Type: reflect.TypeFor[uint64](), Tag: `json:"recorded"`},
	})
	resp := reflect.StructOf([]reflect.StructField{
		{Name: "Data", Type: reflect.SliceOf(rec), Tag: `json:"Data"`},
		{Name: "Timestamp", Type: reflect.TypeFor[uint64](), Tag: `json:"Timestamp"`},
		{Name: "AggregateDelay", Type: reflect.TypeFor[int](), Tag: `json:"AggregateDelay"`},
		{Name: "Error", Type: reflect.TypeFor[string](), Tag: `json:"Error"`},
	})
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		v := reflect.New(resp)
		if err := json.Unmarshal(payload, v.Interface()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/response")
}

// TestBenchPayloadShape keeps the benchmark honest: 150 fields, 100 POPs,
// about the documented size, and decoded the same way encoding/json does.
func TestBenchPayloadShape(t *testing.T) {
	names := benchFieldNames(t, 150)
	p := rtPayload(names, 100, 1700000000)
	if len(names) != 150 || len(p) < 300<<10 || len(p) > 450<<10 {
		t.Fatalf("%d names, %d bytes", len(names), len(p))
	}
	compareWithStdlib(t, p)
}
