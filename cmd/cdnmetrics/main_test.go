package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A command that ends by itself (validate, a failed start) writes no heap
// profile: main cancels the signal context after the wait returns, and that
// must not start a write racing os.Exit (an existing profile truncated, or
// a partial one left behind).
func TestHeapProfileNotWrittenWhenCommandEndsItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.pprof")
	ctx, cancel := context.WithCancel(context.Background())
	wait := heapProfileOnStop(ctx, path)
	wait()   // the command returned; no signal came
	cancel() // main's stop()
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("heap profile written after the command ended by itself (stat: %v)", err)
	}
}

// The stop signal writes the profile, and the wait returns once it is whole.
func TestHeapProfileWrittenOnStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.pprof")
	ctx, cancel := context.WithCancel(context.Background())
	wait := heapProfileOnStop(ctx, path)
	cancel() // the signal
	wait()
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("no heap profile after the stop signal: %v", err)
	}
}
