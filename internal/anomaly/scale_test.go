package anomaly

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time of this process (user + system, every
// thread, the garbage collector's included). On a machine shared with other
// work it is a steadier measure than the wall clock, which counts the time
// others hold the cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDay feeds a day of minutes (1 440 points) to every series of a
// Set of 1 000, 10 000 and 100 000 series (the Set's default MaxSeries),
// time-major as the pipeline does, then saves and loads the state. It
// reports CPU µs per point, heap bytes per series, the state file's bytes
// per series and the CPU time of saving and loading it; the per-point and per-series figures
// staying flat from 1 000 to 100 000 series shows nothing grows
// quadratically. One iteration is the whole day (run with -benchtime 1x;
// `make bench` does): 100 000 series are 144 M points.
func BenchmarkDay(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) { benchDay(b, n, 1440) })
	}
}

func benchDay(b *testing.B, nSeries, points int) {
	paths := make([]string, nSeries)
	for i := range paths {
		paths[i] = fmt.Sprintf("cdnmetrics.anomaly.fastly.svc%03d.pop%03d.hit_ratio", i/100, i%100)
	}
	vals := noisy(1<<16, 5)
	var observe, save, load time.Duration
	var heapPerSeries float64
	var state int
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := NewSet(DefaultParams(), SetOptions{})
		start := processCPU()
		for m := 0; m < points; m++ {
			t := int64(1_700_000_000 + 60*m)
			for k, p := range paths {
				s.Observe(p, t, vals[(m*7919+k)&(1<<16-1)])
			}
		}
		observe += processCPU() - start
		if s.Len() != nSeries {
			b.Fatalf("%d series tracked, want %d", s.Len(), nSeries)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heapPerSeries = float64(after.HeapAlloc-before.HeapAlloc) / float64(nSeries)
		// The state file as run writes and reads it: a file (in the page
		// cache: the CPU of encoding and writing, not the disk's speed).
		path := filepath.Join(b.TempDir(), "anomaly.state")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		start = processCPU()
		if err := s.Save(f); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		save += processCPU() - start
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		state = int(fi.Size())
		start = processCPU()
		l := NewSet(DefaultParams(), SetOptions{})
		f, err = os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Load(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		load += processCPU() - start
		if l.Len() != nSeries {
			b.Fatalf("%d series loaded, want %d", l.Len(), nSeries)
		}
		runtime.KeepAlive(s)
	}
	n := float64(b.N)
	b.ReportMetric(observe.Seconds()*1e6/n/float64(nSeries*points), "cpu-µs/point")
	b.ReportMetric(heapPerSeries, "heap-bytes/series")
	b.ReportMetric(float64(state)/float64(nSeries), "state-bytes/series")
	b.ReportMetric(save.Seconds()*1e3/n, "save-cpu-ms")
	b.ReportMetric(load.Seconds()*1e3/n, "load-cpu-ms")
}
