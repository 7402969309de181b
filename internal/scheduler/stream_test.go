package scheduler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// syncBuffer is a log buffer FollowStream's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A stream's checkpoint follows the newest emitted interval only once the
// sink says the points are durable: while Flush fails it stays put (with
// a warning), once Flush succeeds it moves, never past our clock, and the
// last position is saved as the stream stops.
func TestFollowStreamMovesCheckpointOnlyAfterDurableFlush(t *testing.T) {
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var durable atomic.Bool
	var flushes atomic.Int64
	var logs syncBuffer
	r := &Runner{
		Name: "rt", Store: st,
		Flush: func(context.Context) error {
			flushes.Add(1)
			if !durable.Load() {
				return errors.New("carbon away, spool full")
			}
			return nil
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now:    func() time.Time { return t0 },
	}
	var newest atomic.Int64
	newest.Store(t0.Add(-5 * time.Minute).Unix())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.FollowStream(ctx, 5*time.Millisecond, func() time.Time { return time.Unix(newest.Load(), 0) })
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				cancel()
				<-done
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("two failed flushes", func() bool { return flushes.Load() >= 2 })
	if _, ok, _ := st.Get("rt"); ok {
		t.Fatal("checkpoint moved although the points were not durable")
	}
	if !strings.Contains(logs.String(), "checkpoint not moved") {
		t.Errorf("no warning for the checkpoint kept back:\n%s", logs.String())
	}
	durable.Store(true)
	waitFor("the checkpoint at the newest interval", func() bool {
		cp, ok, _ := st.Get("rt")
		return ok && cp.End.Equal(t0.Add(-5*time.Minute))
	})
	// A vendor stamp ahead of our clock never becomes the checkpoint.
	newest.Store(t0.Add(time.Hour).Unix())
	cancel()
	<-done
	cp, _, _ := st.Get("rt")
	if !cp.End.Equal(t0) {
		t.Fatalf("checkpoint at stop = %v, want our clock %v", cp.End, t0)
	}
}

// Windows take the same road: a window collected but not made durable
// does not move the checkpoint.
func TestRunnerKeepsCheckpointWhenFlushFails(t *testing.T) {
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{
		Name: "x", Collector: &scripted{}, Store: st,
		Timing:  collectors.Timing{Step: time.Minute, Lookback: time.Hour, MaxWindow: time.Hour},
		Flush:   func(context.Context) error { return errors.New("carbon away, spool full") },
		Logger:  slog.New(slog.NewTextHandler(&syncBuffer{}, nil)),
		Now:     func() time.Time { return t0 },
		Emitter: collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return nil }),
	}
	res := r.RunOnce(context.Background())
	if res.Err == nil || !strings.Contains(res.Err.Error(), "flush sink") || res.Windows != 0 {
		t.Fatalf("res = %+v, want a flush error and no window done", res)
	}
	if cp, ok, _ := st.Get("x"); ok {
		t.Fatalf("checkpoint moved to %v although the window was not durable", cp.End)
	}
}
