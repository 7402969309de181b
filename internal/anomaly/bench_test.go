package anomaly

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
)

// The cost per point is BenchmarkUpdate (one detector, ns/op = one point)
// and BenchmarkSetObserve (through a Set of many series: map lookup, lock
// and all); the cost per series is the heap a Set holds per series
// (bytes/series) and the state file's bytes per series (BenchmarkSaveLoad).

const benchSeries = 1000

func benchPaths() []string {
	paths := make([]string, benchSeries)
	for i := range paths {
		paths[i] = fmt.Sprintf("cdnmetrics.anomaly.fastly.www.pop%04d.hit_ratio", i)
	}
	return paths
}

// BenchmarkSetObserve feeds points round-robin to 1000 series; ns/op is
// the cost of one point, heap-bytes/series what a series costs in memory.
func BenchmarkSetObserve(b *testing.B) {
	paths := benchPaths()
	vals := noisy(4096, 3)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewSet(DefaultParams(), SetOptions{})
	for i, p := range paths {
		s.Observe(p, 0, vals[i&4095])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSeries := float64(after.HeapAlloc-before.HeapAlloc) / benchSeries
	b.ReportAllocs()
	i := benchSeries
	for b.Loop() {
		k := i % benchSeries
		s.Observe(paths[k], int64(i/benchSeries)*60, vals[i&4095])
		i++
	}
	b.ReportMetric(perSeries, "heap-bytes/series")
	runtime.KeepAlive(s)
}

// BenchmarkSaveLoad saves and loads a Set of 1000 series; ns/op is the
// whole round trip (divide by 1000 for one series).
func BenchmarkSaveLoad(b *testing.B) {
	paths := benchPaths()
	vals := noisy(4096, 4)
	s := NewSet(DefaultParams(), SetOptions{})
	for i := 0; i < 200; i++ {
		for k, p := range paths {
			s.Observe(p, int64(i)*60, vals[(i+k)&4095])
		}
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := s.Save(&buf); err != nil {
			b.Fatal(err)
		}
		if err := NewSet(DefaultParams(), SetOptions{}).Load(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/benchSeries, "state-bytes/series")
}
