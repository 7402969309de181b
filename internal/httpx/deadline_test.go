package httpx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// trickle answers 200 and then one byte every 100 ms, at most 300 bytes
// (30 s), stopping as soon as the client goes away.
func trickle(attempts *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		w.Header().Set("Content-Length", "300")
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 300; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}

// A vendor that trickles its answer one byte per 100 ms costs one request
// its deadline, not attempts × per-attempt timeout (5 × 30 s here).
func TestDeadlineBoundsTricklingVendor(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewServer(trickle(&attempts))
	defer srv.Close()
	c := New("testvendor", WithDeadline(500*time.Millisecond), WithBackoff(10*time.Millisecond, 20*time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))))

	type result struct {
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := c.Do(context.Background(), Request{URL: srv.URL + "/stats"})
		done <- result{err, time.Since(start)}
	}()
	select {
	case res := <-done:
		if res.err == nil {
			t.Fatal("trickled request succeeded; want a deadline error")
		}
		if !errors.Is(res.err, ErrDeadline) {
			t.Fatalf("err = %v, want one wrapping ErrDeadline", res.err)
		}
		// 500 ms deadline; the rest is slack for a loaded machine.
		if res.elapsed > 2*time.Second {
			t.Fatalf("request took %v, want about the 500ms deadline", res.elapsed)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("request still running after 10s (%d attempts); the deadline is 500ms", attempts.Load())
	}
}

// A retry the vendor asks for after the deadline is not waited for: the
// request fails at once, saying why.
func TestRetryAfterBeyondDeadlineFailsAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var slept []time.Duration
	c := New("testvendor", WithDeadline(5*time.Second),
		WithClock(time.Now, func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() }),
		WithLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))))
	_, err := c.Do(context.Background(), Request{URL: srv.URL})
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("err = %v, want ErrDeadline", err)
	}
	if len(slept) != 0 {
		t.Fatalf("slept %v before failing; want no wait past the deadline", slept)
	}
}
