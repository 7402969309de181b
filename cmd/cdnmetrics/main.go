// Command cdnmetrics pulls CDN traffic metrics from vendor reporting APIs
// into Graphite. See README.md; all logic lives in internal/app.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := cpuProfile(os.Getenv("CDNMETRICS_CPUPROFILE"))
	code := app.Main(ctx, os.Args[1:], app.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stopProfile()
	stop()
	os.Exit(code)
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
