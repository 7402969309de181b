package graphite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Issue 16 item 3: a spool that refuses writes (full disk) while carbon is
// down must make Flush fail within a bound, naming the spool and the
// cause, and must not stop delivery once carbon is back.

// withSpoolFault makes every spool write ask fault first.
func withSpoolFault(fault func() error) Option { return func(o *options) { o.spoolFault = fault } }

// diskFull returns a fault that fails spool writes in dir with ENOSPC
// while full is set, as a full disk does.
func diskFull(dir string, full *atomic.Bool) func() error {
	return func() error {
		if full.Load() {
			return &os.PathError{Op: "write", Path: filepath.Join(dir, segName(1)), Err: syscall.ENOSPC}
		}
		return nil
	}
}

// flushTimed runs Flush with a generous context and returns its error and
// how long it took.
func flushTimed(t *testing.T, s *TCPSink, limit time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	err := s.Flush(ctxT(t, limit))
	return err, time.Since(start)
}

// wantSpoolFullError checks that err is the sink's answer (not the
// caller's deadline), came within bound, and names dir and the cause.
func wantSpoolFullError(t *testing.T, err error, took, bound time.Duration, dir string) {
	t.Helper()
	if err == nil {
		t.Fatal("Flush returned nil with carbon down and the spool refusing writes")
	}
	if errors.Is(err, context.DeadlineExceeded) || took > bound {
		t.Fatalf("Flush took %v (bound %v) and returned %v: want the sink's own error, not the caller's deadline", took, bound, err)
	}
	for _, want := range []string{dir, syscall.ENOSPC.Error()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Flush error %q does not name %q", err, want)
		}
	}
}

// TestSpoolFullFlushFailsThenCarbonDelivers: carbon down, every spool
// write fails with ENOSPC. Flush fails within the bound (flush timeout plus
// retry window plus one retry) naming the spool dir and ENOSPC; nothing is
// counted as spooled. Carbon then comes back while the disk stays full:
// every point arrives and a new Flush succeeds.
func TestSpoolFullFlushFailsThenCarbonDelivers(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	var full atomic.Bool
	full.Store(true)
	s := newSink(t, f.addr, WithSpool(dir, 1<<20), WithRetryWindow(50*time.Millisecond),
		WithFlushTimeout(500*time.Millisecond), withSpoolFault(diskFull(dir, &full)))
	p, w := points("t.full", 300, 3, 7000)
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	err, took := flushTimed(t, s, 15*time.Second)
	wantSpoolFullError(t, err, took, 5*time.Second, dir)
	st := s.Stats()
	if st.SpooledPoints != 0 || st.UnspooledPoints != 300 || st.SpoolErrors == 0 || !strings.Contains(st.SpoolError, dir) {
		t.Fatalf("stats = %+v, want 0 spooled, 300 held in memory, spool errors counted and named", st)
	}

	f.start() // the disk stays full
	f.waitAll(w, 10*time.Second)
	if err := s.Flush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush after carbon came back: %v", err)
	}
	st = statsWhen(s, func(st Stats) bool { return st.SentPoints == 300 })
	if d, sp, dr, mem := st.Own(); d != 300 || sp != 0 || dr != 0 || mem != 0 {
		t.Fatalf("own points: %d delivered, %d spooled, %d dropped, %d in memory; want 300, 0, 0, 0 (stats %+v)", d, sp, dr, mem, st)
	}
}

// TestSpoolFullRecovers: the disk frees up while carbon is still down;
// the held points go to the spool and Flush succeeds again.
func TestSpoolFullRecovers(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	var full atomic.Bool
	full.Store(true)
	s := newSink(t, f.addr, WithSpool(dir, 1<<20), WithRetryWindow(50*time.Millisecond),
		WithFlushTimeout(300*time.Millisecond), withSpoolFault(diskFull(dir, &full)))
	p, _ := points("t.recover", 120, 3, 7000)
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	err, took := flushTimed(t, s, 15*time.Second)
	wantSpoolFullError(t, err, took, 5*time.Second, dir)
	full.Store(false)
	if err := s.Flush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush after the disk freed up: %v", err)
	}
	if st := s.Stats(); st.SpooledPoints != 120 || st.SpoolPoints != 120 || st.UnspooledPoints != 0 || st.SpoolError != "" {
		t.Fatalf("stats = %+v, want the 120 points spooled, none in memory, no spool error", st)
	}
}

// TestSpoolFullCloseCountsLost: carbon down and the disk full at Close:
// Close returns soon with an error naming the spool and the cause, and the
// points are counted as lost, not spooled.
func TestSpoolFullCloseCountsLost(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	var full atomic.Bool
	full.Store(true)
	s, err := New(f.addr, WithLogger(testLog(t)), WithBackoff(10*time.Millisecond, 100*time.Millisecond),
		WithSpool(dir, 1<<20), WithRetryWindow(50*time.Millisecond), WithFlushTimeout(300*time.Millisecond),
		withSpoolFault(diskFull(dir, &full)))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := points("t.closefull", 50, 1, 7000)
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Close(ctxT(t, 15*time.Second))
	took := time.Since(start)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
		t.Fatalf("Close took %v and returned %v: want the sink's own error within 5s", took, err)
	}
	for _, want := range []string{dir, syscall.ENOSPC.Error(), "50 points"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Close error %q does not name %q", err, want)
		}
	}
	st := s.Stats()
	if _, sp, dr, _ := st.Own(); st.LostPoints != 50 || st.SpooledPoints != 0 || sp != 0 || dr != 50 {
		t.Fatalf("stats = %+v, want 50 lost, none spooled", st)
	}
}

// TestHeldFullSendFails: with carbon down and the spool refusing, memory
// holds at most the queue size twice over (held + queue); beyond that Send
// fails with the reason instead of blocking its caller forever.
func TestHeldFullSendFails(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	var full atomic.Bool
	full.Store(true)
	s := newSink(t, f.addr, WithQueueSize(100), WithSpool(dir, 1<<20), WithRetryWindow(50*time.Millisecond),
		WithFlushTimeout(300*time.Millisecond), withSpoolFault(diskFull(dir, &full)))
	p, _ := points("t.heldfull", 1000, 10, 7000)
	start := time.Now()
	err := s.Send(ctxT(t, 15*time.Second), p)
	took := time.Since(start)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
		t.Fatalf("Send of 1000 points into 100 + 100 took %v and returned %v: want the sink's own error within 5s", took, err)
	}
	if !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		t.Errorf("Send error %q does not name the cause", err)
	}
	if st := s.Stats(); st.UnspooledPoints != 100 || st.QueuePoints != 100 {
		t.Fatalf("stats = %+v, want 100 held and 100 queued", st)
	}
}

// TestNoSpoolFlushFailsInBound: without a spool, points carbon does not
// take within the retry window can be neither delivered nor made durable:
// Flush says so after the flush timeout instead of waiting forever, and
// they still arrive once carbon is back.
func TestNoSpoolFlushFailsInBound(t *testing.T) {
	f := downFakeCarbon(t)
	s := newSink(t, f.addr, WithRetryWindow(50*time.Millisecond), WithFlushTimeout(300*time.Millisecond))
	p, w := points("t.nospool", 90, 3, 7000)
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	err, took := flushTimed(t, s, 15*time.Second)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second || !strings.Contains(err.Error(), "no spool") {
		t.Fatalf("Flush took %v and returned %v: want a 'no spool' error within 5s", took, err)
	}
	f.start()
	f.waitAll(w, 10*time.Second)
	if err := s.Flush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestOwnAcrossInstances (item 5): what a process says it delivered,
// spooled and dropped covers exactly its own points, apart from what an
// earlier process left in the spool.
func TestOwnAcrossInstances(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	s1 := newSink(t, f.addr, WithSpool(dir, 1<<20), WithRetryWindow(20*time.Millisecond))
	p, w := points("t.own", 3000, 30, 9000)
	if err := s1.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if d, sp, dr, mem := s1.Stats().Own(); d != 0 || sp != 3000 || dr != 0 || mem != 0 {
		t.Fatalf("carbon down: %d delivered, %d spooled, %d dropped, %d in memory; want 0, 3000, 0, 0", d, sp, dr, mem)
	}

	f.start()
	s2 := newSink(t, f.addr, WithSpool(dir, 1<<20))
	p2, w2 := points("t.own2", 100, 10, 9000)
	if err := s2.Send(ctxT(t, 5*time.Second), p2); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll(append(w, w2...), 10*time.Second)
	st := s2.Stats()
	if d, sp, dr, mem := st.Own(); d != 100 || sp != 0 || dr != 0 || mem != 0 {
		t.Fatalf("carbon up: %d delivered, %d spooled, %d dropped, %d in memory; want 100, 0, 0, 0 (stats %+v)", d, sp, dr, mem, st)
	}
	if st.CarriedPoints != 3000 || st.CarriedReplayed != 3000 || st.CarriedDropped != 0 {
		t.Fatalf("stats = %+v, want 3000 carried and replayed", st)
	}
}
