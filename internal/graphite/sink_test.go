package graphite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testLog logs through t so failures show the sink's story.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// points returns n points m.<i%metrics> with value i and time base+i/metrics,
// and their expected lines.
func points(prefix string, n, metrics int, base int64) ([]schema.Point, []string) {
	pts := make([]schema.Point, n)
	lines := make([]string, n)
	for i := range pts {
		pts[i] = schema.Point{Path: fmt.Sprintf("%s.m%d", prefix, i%metrics), Value: float64(i), Time: base + int64(i/metrics)}
		lines[i] = fmt.Sprintf("%s %d %d", pts[i].Path, i, pts[i].Time)
	}
	return pts, lines
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newSink(t testing.TB, addr string, opts ...Option) *TCPSink {
	t.Helper()
	opts = append([]Option{WithLogger(testLog(t)), WithBackoff(10*time.Millisecond, 100*time.Millisecond), WithClose(50*time.Millisecond, 10*time.Second)}, opts...)
	s, err := New(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(ctxT(t, 5*time.Second)) })
	return s
}

func TestSendFlushDelivers(t *testing.T) {
	f := newFakeCarbon(t)
	s := newSink(t, f.addr, WithBatch(100, 64<<10))
	pts, want := points("t.a", 2500, 10, 1700000000)
	// Three Sends of uneven size exercise splitting into 100-point batches.
	for _, r := range [][2]int{{0, 1}, {1, 1300}, {1300, 2500}} {
		if err := s.Send(ctxT(t, 5*time.Second), pts[r[0]:r[1]]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll(want, 5*time.Second)
	st := s.Stats()
	if st.SentPoints != 2500 || st.SendErrors != 0 || st.Reconnects != 0 || !st.Connected {
		t.Fatalf("stats = %+v, want 2500 sent, no errors, connected", st)
	}
}

func TestLineFormat(t *testing.T) {
	var out bytes.Buffer
	w := NewWriterSink(&out)
	pts := []schema.Point{
		{Path: "cdn.fastly.svc.all.requests", Value: 1234, Time: 1700000000},
		{Path: "cdn.fastly.svc.all.hit_ratio", Value: 0.925, Time: 1700000000},
		{Path: "big", Value: 1e21, Time: 1},
		{Path: "neg", Value: -0.5, Time: 2},
		{Path: "nan", Value: math.NaN(), Time: 3},
		{Path: "inf", Value: math.Inf(-1), Time: 3},
		{Path: "sp ace", Value: 1, Time: 3},
		{Path: "", Value: 1, Time: 3},
		{Path: "zero", Value: 1, Time: 0},
		{Path: strings.Repeat("x", MaxLineBytes), Value: 1, Time: 3},
		{Path: "nl\n", Value: 1, Time: 3},
	}
	if err := w.Send(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 'g' with -1 precision: shortest exact text, exponent only from 1e21.
	want := "cdn.fastly.svc.all.requests 1234 1700000000\n" +
		"cdn.fastly.svc.all.hit_ratio 0.925 1700000000\n" +
		"big 1e+21 1\n" +
		"neg -0.5 2\n"
	if out.String() != want {
		t.Fatalf("lines:\n%s\nwant:\n%s", out.String(), want)
	}
	if st := w.Stats(); st.DroppedInvalid != 7 || st.SentPoints != 4 {
		t.Fatalf("stats = %+v, want 7 dropped, 4 sent", st)
	}
}

func TestLineLengthLimit(t *testing.T) {
	// "<path> 1 9\n" is len(path)+5 bytes: 16379 fits exactly, 16380 not.
	ok := schema.Point{Path: strings.Repeat("a", MaxLineBytes-5), Value: 1, Time: 9}
	long := schema.Point{Path: strings.Repeat("a", MaxLineBytes-4), Value: 1, Time: 9}
	if err := checkPoint(&ok); err != nil {
		t.Fatalf("line of exactly %d bytes refused: %v", len(AppendLine(nil, ok)), err)
	}
	if err := checkPoint(&long); err != errLineLength {
		t.Fatalf("line of %d bytes: err = %v, want errLineLength", len(AppendLine(nil, long)), err)
	}
}

func TestInvalidDroppedBySink(t *testing.T) {
	f := newFakeCarbon(t)
	s := newSink(t, f.addr)
	pts := []schema.Point{{Path: "ok.a", Value: 1, Time: 10}, {Path: "bad", Value: math.NaN(), Time: 10}, {Path: "ok.b", Value: 2, Time: 10}}
	if err := s.Send(ctxT(t, 5*time.Second), pts); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll([]string{"ok.a 1 10", "ok.b 2 10"}, 5*time.Second)
	if st := s.Stats(); st.DroppedInvalid != 1 || st.SentPoints != 2 {
		t.Fatalf("stats = %+v, want 1 invalid, 2 sent", st)
	}
}

// TestPeerClosedBeforeWrite: carbon closes the connection (as on SIGTERM);
// the sink must notice before its next write, reconnect, and re-send what
// it wrote recently.
func TestPeerClosedBeforeWrite(t *testing.T) {
	f := newFakeCarbon(t)
	s := newSink(t, f.addr)
	p1, w1 := points("t.close1", 50, 5, 1000)
	if err := s.Send(ctxT(t, 5*time.Second), p1); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll(w1, 5*time.Second)
	f.dropConns()
	waitFor(t, "sink to notice the closed peer", func() bool { return s.Stats().Reconnects >= 1 })
	p2, w2 := points("t.close2", 50, 5, 2000)
	if err := s.Send(ctxT(t, 5*time.Second), p2); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll(w2, 5*time.Second)
	st := s.Stats()
	// The 50 points written before the close were re-sent after it.
	if st.ResentPoints != 50 || st.SentPoints != 100 {
		t.Fatalf("stats = %+v, want 50 resent and 100 sent", st)
	}
}

// TestListenerRestart: carbon goes away and comes back on the same port
// while points keep flowing; without a spool every point must arrive.
func TestListenerRestart(t *testing.T) {
	f := newFakeCarbon(t)
	s := newSink(t, f.addr, WithRetryWindow(50*time.Millisecond))
	var all []string
	var wg sync.WaitGroup
	defer wg.Wait()
	for round := range 4 {
		p, w := points(fmt.Sprintf("t.restart%d", round), 200, 20, int64(1000*(round+1)))
		all = append(all, w...)
		switch round {
		case 1:
			// Down while these points are sent; back 150 ms later.
			f.stop()
			wg.Add(1)
			go func() { defer wg.Done(); time.Sleep(150 * time.Millisecond); f.start() }()
		case 2:
			// Close and re-listen at once: the next write hits a dead socket.
			f.stop()
			f.start()
		}
		if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if round == 1 {
			// Flush means written, not read: the lines may have gone to
			// the closed socket. Wait for carbon and the sink to be back.
			wg.Wait()
			waitFor(t, "the first reconnect", func() bool { return s.Stats().Reconnects >= 1 })
		}
	}
	if err := s.Flush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll(all, 10*time.Second)
	waitFor(t, "the second reconnect", func() bool { return s.Stats().Reconnects >= 2 })
}

// TestRefusedUntilUp: without a spool Flush waits for carbon, then
// everything arrives.
func TestRefusedUntilUp(t *testing.T) {
	f := downFakeCarbon(t)
	s := newSink(t, f.addr)
	p, w := points("t.refused", 300, 3, 5000)
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := s.Flush(ctx)
	cancel()
	if err == nil {
		t.Fatal("flush succeeded while carbon refused connections")
	}
	if st := statsWhen(s, func(st Stats) bool { return st.SendErrors > 0 }); st.SendErrors == 0 || st.Connected {
		t.Fatalf("stats = %+v, want send errors and not connected", st)
	}
	f.start()
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll(w, 5*time.Second)
}

// TestStalledCarbonWriteDeadline: a carbon that accepts but never reads
// must not block the sink forever: the write deadline fires, the sink
// reconnects, and once carbon reads again every point arrives.
func TestStalledCarbonWriteDeadline(t *testing.T) {
	f := newFakeCarbon(t)
	f.stall()
	s := newSink(t, f.addr, WithWriteTimeout(200*time.Millisecond), WithQueueSize(1<<20))
	// About 12 MB of lines: more than loopback socket buffers hold.
	prefix := "t.stall." + strings.Repeat("p", 200)
	p, w := points(prefix, 60000, 100, 7000)
	if err := s.Send(ctxT(t, 10*time.Second), p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a write deadline to fire", func() bool { return s.Stats().SendErrors > 0 })
	f.unstall()
	if err := s.Flush(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll(w, 30*time.Second)
}

func TestConcurrentSend(t *testing.T) {
	f := newFakeCarbon(t)
	s := newSink(t, f.addr, WithQueueSize(500))
	var wg sync.WaitGroup
	var all []string
	var mu sync.Mutex
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				p, w := points(fmt.Sprintf("t.conc.g%d.r%d", g, i), 100, 10, 100)
				if err := s.Send(context.Background(), p); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if err := s.Flush(context.Background()); err != nil {
						t.Error(err)
					}
				}
				_ = s.Stats()
				mu.Lock()
				all = append(all, w...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := s.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// 8 goroutines x 20 sends x 100 points.
	if len(all) != 16000 {
		t.Fatalf("test sent %d points, want 16000", len(all))
	}
	f.waitAll(all, 5*time.Second)
	if err := s.Send(context.Background(), []schema.Point{{Path: "x", Value: 1, Time: 1}}); err != ErrClosed {
		t.Fatalf("send after close: %v, want ErrClosed", err)
	}
}

// TestSpoolAcrossInstances: carbon is down, points go to the spool, the
// process "restarts" (a new sink on the same dir) and replays them once
// carbon is back.
func TestSpoolAcrossInstances(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	s1, err := New(f.addr, WithLogger(testLog(t)), WithSpool(dir, 1<<20), WithRetryWindow(20*time.Millisecond), WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	p, w := points("t.spool", 3000, 30, 9000)
	if err := s1.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	// With a spool, Flush returns once the points are durable on disk.
	if err := s1.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := s1.Stats(); st.SpooledPoints != 3000 || st.SpoolPoints != 3000 || st.SentPoints != 0 {
		t.Fatalf("stats = %+v, want 3000 spooled and waiting, 0 sent", st)
	}
	if err := s1.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no spool segment left after close")
	}
	f.start()
	s2 := newSink(t, f.addr, WithSpool(dir, 1<<20))
	f.waitAll(w, 10*time.Second)
	waitFor(t, "the spool to drain", func() bool { return s2.Stats().SpoolPoints == 0 })
	if st := s2.Stats(); st.ReplayedPoints != 3000 {
		t.Fatalf("stats = %+v, want 3000 replayed", st)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 0 {
		t.Fatalf("segments left after replay: %v", segs)
	}
}

// TestSpoolOrderWithNewPoints: points sent while the spool drains go
// behind it, so a revised value is never overwritten by an older one.
func TestSpoolOrderWithNewPoints(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	s := newSink(t, f.addr, WithSpool(dir, 1<<20), WithRetryWindow(10*time.Millisecond))
	old := []schema.Point{{Path: "t.order", Value: 1, Time: 100}}
	if err := s.Send(ctxT(t, 5*time.Second), old); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.start()
	if err := s.Send(ctxT(t, 5*time.Second), []schema.Point{{Path: "t.order", Value: 2, Time: 100}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll([]string{"t.order 1 100", "t.order 2 100"}, 5*time.Second)
}

func TestCloseWithoutCarbonCountsLost(t *testing.T) {
	f := downFakeCarbon(t)
	s, err := New(f.addr, WithLogger(quietLog()), WithBackoff(10*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := points("t.lost", 42, 1, 1)
	if err := s.Send(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err == nil {
		t.Fatal("close without carbon returned nil")
	}
	if st := s.Stats(); st.LostPoints != 42 {
		t.Fatalf("stats = %+v, want 42 lost", st)
	}
}

func TestSelfPoints(t *testing.T) {
	st := Stats{SentPoints: 7, SpoolDroppedPoints: 3, Connected: true, QueuePoints: 5}
	pts := st.SelfPoints("cdn", time.Unix(1700000000, 0))
	got := map[string]float64{}
	for _, p := range pts {
		if p.Time != 1700000000 {
			t.Fatalf("%s stamped %d", p.Path, p.Time)
		}
		got[p.Path] = p.Value
	}
	for path, v := range map[string]float64{
		"cdn.cdnmetrics.sink.sent_points":          7,
		"cdn.cdnmetrics.sink.spool_dropped_points": 3,
		"cdn.cdnmetrics.sink.connected":            1,
		"cdn.cdnmetrics.sink.queue_points":         5,
		"cdn.cdnmetrics.sink.reconnects":           0,
	} {
		if g, ok := got[path]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", path, g, ok, v)
		}
	}
}

func TestNewRejectsBadAddress(t *testing.T) {
	for _, a := range []string{"nohostport", "h:0", "h:x", "h:70000"} {
		if _, err := New(a, WithLogger(quietLog())); err == nil {
			t.Errorf("New(%q) accepted", a)
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// statsWhen returns s's counters once cond holds, or after 10 s. The
// sink counts a write after it returns, which may be after the fake has
// read the lines: a test that waited for the lines waits here too.
func statsWhen(s *TCPSink, cond func(Stats) bool) Stats {
	deadline := time.Now().Add(10 * time.Second)
	st := s.Stats()
	for !cond(st) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		st = s.Stats()
	}
	return st
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}

// TestUnreadDataResentWhenIdle: carbon closes a connection without having
// read what the sink wrote (the write "succeeded" into socket buffers). The
// sink must notice on its own, with no further Send, and re-send it.
func TestUnreadDataResentWhenIdle(t *testing.T) {
	f := newFakeCarbon(t)
	f.stall()
	s := newSink(t, f.addr)
	p, w := points("t.unread", 30, 3, 500)
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	// Flush only means "written": the lines sit unread in the fake's socket.
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if f.received() != 0 {
		t.Fatal("stalled fake read lines")
	}
	waitFor(t, "the fake to accept", func() bool { return f.connCount() == 1 })
	f.dropConns() // closing with unread data: the lines are gone
	f.unstall()   // new connections are read again
	f.waitAll(w, 10*time.Second)
	if st := statsWhen(s, func(st Stats) bool { return st.ResentPoints == 30 && st.SentPoints == 30 }); st.ResentPoints != 30 || st.SentPoints != 30 {
		t.Fatalf("stats = %+v, want 30 sent and 30 resent", st)
	}
}

// TestCloseResendsWhenCarbonClosesWhileSettling: carbon goes away (the way
// a SIGTERMed carbon-cache does, which loses what it received in its last
// second) while Close keeps the connection open after the last write. The
// recent writes must be re-sent, here into the spool as carbon stays down,
// and the next sink replays them.
func TestCloseResendsWhenCarbonClosesWhileSettling(t *testing.T) {
	f := newFakeCarbon(t)
	dir := t.TempDir()
	s, err := New(f.addr, WithLogger(testLog(t)), WithSpool(dir, 1<<20), WithClose(10*time.Second, time.Second),
		WithRetryWindow(50*time.Millisecond), WithBackoff(10*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	p, w := points("t.settle", 60, 6, 3000)
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll(w, 5*time.Second)
	closed := make(chan error, 1)
	t0 := time.Now()
	go func() { closed <- s.Close(ctxT(t, 20*time.Second)) }()
	f.stop() // carbon goes away while Close settles
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(9 * time.Second):
		t.Fatal("Close did not notice carbon going away while settling")
	}
	t.Logf("close returned after %v", time.Since(t0).Round(time.Millisecond))
	if st := s.Stats(); st.SpooledPoints != 60 || st.SpoolPoints != 60 || st.LostPoints != 0 {
		t.Fatalf("stats = %+v, want the 60 recent points spooled", st)
	}
	f.start()
	s2 := newSink(t, f.addr, WithSpool(dir, 1<<20))
	if err := s2.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := s2.Stats(); st.ReplayedPoints != 60 || st.SpoolPoints != 0 {
		t.Fatalf("stats = %+v, want 60 replayed by Close and the spool empty", st)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 0 {
		t.Fatalf("segments left after Close replayed: %v", segs)
	}
}

// TestCloseSpoolsUnsettledWrites: Close's context ends before the last
// writes are settled; they go to the spool (at least once), not away.
func TestCloseSpoolsUnsettledWrites(t *testing.T) {
	f := newFakeCarbon(t)
	dir := t.TempDir()
	s, err := New(f.addr, WithLogger(testLog(t)), WithSpool(dir, 1<<20), WithClose(10*time.Second, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p, w := points("t.unsettled", 40, 4, 4000)
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	// Long enough to connect and write on a loaded machine, far shorter
	// than the 10 s settle: the context ends while Close waits to settle.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	f.waitAll(w, 5*time.Second)
	if st := s.Stats(); st.SentPoints != 40 || st.SpooledPoints != 40 || st.LostPoints != 0 {
		t.Fatalf("stats = %+v, want 40 sent and the same 40 spooled", st)
	}
}

// TestCloseWaitsForSettle: with carbon up, Close returns once the newest
// write is settle old, and leaves no spool behind.
func TestCloseWaitsForSettle(t *testing.T) {
	f := newFakeCarbon(t)
	dir := t.TempDir()
	const settle = 300 * time.Millisecond
	s := newSink(t, f.addr, WithSpool(dir, 1<<20), WithClose(settle, time.Second))
	p, w := points("t.settled", 20, 2, 5000)
	// Before Send: the write may happen before Send returns, and settle
	// counts from the write.
	t0 := time.Now()
	if err := s.Send(ctxT(t, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < settle-50*time.Millisecond || d > 3*time.Second {
		t.Errorf("Close took %v, want about %v", d, settle)
	}
	f.waitAll(w, 5*time.Second)
	if st := s.Stats(); st.SpooledPoints != 0 || st.ResentPoints != 0 {
		t.Fatalf("stats = %+v, want nothing spooled or re-sent", st)
	}
}
