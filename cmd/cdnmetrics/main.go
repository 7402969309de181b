// Command cdnmetrics pulls CDN traffic metrics from vendor reporting APIs
// into Graphite. See README.md; all logic lives in internal/app.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
)

// gcPercent is the garbage collector's target when GOGC is not set: the
// heap may grow to live × 1.4 between collections, not Go's × 2. A `run`
// following a thousand Fastly services holds ~135 MB live — HTTP/2 receive
// buffers, a few minutes of buckets per service — almost none of it
// pointers, so collecting often costs little CPU (README "Benchmarks":
// 100 → 50 took GC from 0.010 to 0.015 cores for ~1/4 less RSS; 50 → 40
// from 0.021 to 0.026 cores at 1 000 services for ~20 MiB less at the
// peak). GOGC and GOMEMLIMIT in the environment are Go's own and win.
const gcPercent = 40

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := cpuProfile(os.Getenv("CDNMETRICS_CPUPROFILE"))
	heapWritten := heapProfileOnStop(ctx, os.Getenv("CDNMETRICS_MEMPROFILE"))
	code := app.Main(ctx, os.Args[1:], app.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stopProfile()
	heapWritten()
	stop()
	os.Exit(code)
}

// heapProfileOnStop writes a Go heap profile to path when ctx ends (the
// stop signal), before the shutdown frees anything: the live heap of a
// running `run`, read with `go tool pprof -sample_index=inuse_space`. The
// profile is the heap as of the last garbage collection. No path, no
// profile; a failure is said on stderr. The returned func waits for the
// profile when the stop signal came (not when the command ended by itself).
func heapProfileOnStop(ctx context.Context, path string) (wait func()) {
	if path == "" {
		return func() {}
	}
	written := make(chan struct{})
	ended := make(chan struct{}) // the command returned without a signal
	go func() {
		defer close(written)
		select {
		case <-ctx.Done():
		case <-ended:
			// main's stop() cancels ctx next: that is no stop signal, and a
			// write then would race os.Exit (a profile truncated or partial).
			return
		}
		f, err := os.Create(path)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "CDNMETRICS_MEMPROFILE: %v\n", err)
		}
	}()
	return func() {
		if ctx.Err() == nil {
			close(ended)
		}
		<-written
	}
}

// cpuProfile writes a Go CPU profile of the whole process to path until the
// returned func is called (a debugging aid for README "Benchmarks": where a
// `run` under load spends its CPU, read with `go tool pprof`). No path, no
// profile; a profile that cannot be written is said on stderr and skipped.
func cpuProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "CDNMETRICS_CPUPROFILE: %v; no profile\n", err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "CDNMETRICS_CPUPROFILE: %v\n", err)
		}
	}
}
