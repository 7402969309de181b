package graphite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	graphite "github.com/marpaia/graphite-golang"

	"github.com/cdnmetrics/cdnmetrics/internal/backoff"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Sink takes points for carbon; it is the program's one sink interface
// (internal/pipeline delivers through it, the commands flush and close it).
// Implementations are safe for concurrent use.
type Sink interface {
	// Send queues pts (the slice may be reused after it returns). It blocks
	// while the queue is full and returns ctx's error if that ends first,
	// in which case a prefix of pts may have been queued. It fails instead
	// of blocking when the queue and the points held in memory are full and
	// neither carbon nor the spool takes any. Invalid points
	// (NaN/Inf, bad path, time <= 0, line over 16 KiB) are dropped and
	// counted, not reported as an error.
	Send(ctx context.Context, pts []schema.Point) error
	// Flush returns nil once every point sent before it was written to
	// carbon or made durable in the spool. It returns an error when some
	// could be neither (carbon away past the retry window and the spool
	// refusing writes, or no spool): those points stay in memory and are
	// delivered when carbon is back, but a checkpoint must not move past
	// them.
	Flush(ctx context.Context) error
	// Close flushes and stops the sink. Later Sends return ErrClosed.
	Close(ctx context.Context) error
	// Stats returns the sink's counters.
	Stats() Stats
}

// ErrClosed is returned by Send and Flush after Close.
var ErrClosed = errors.New("graphite: sink closed")

// TCPSink delivers points to carbon's plaintext TCP receiver; see the
// package documentation.
type TCPSink struct {
	addr string
	host string
	port int
	o    options
	log  *slog.Logger
	q    *queue

	closing   chan struct{} // closed by Close once the queue is flushed: settle, replay, exit
	stop      chan struct{} // closed by Close: exit now
	done      chan struct{} // closed when the owner goroutine returned
	closeOnce sync.Once
	closeErr  error

	// abortConn lets Close interrupt a blocked write.
	connMu    sync.Mutex
	abortConn net.Conn

	sent, resent, sendErrs, reconnects, invalid atomic.Uint64
	spooled, replayed, spoolDropped, lost       atomic.Uint64
	spoolCorrupt                                atomic.Uint64
	spoolPoints, spoolBytes                     atomic.Int64
	connected                                   atomic.Bool
	spoolErrs, carriedReplayed, carriedDropped  atomic.Uint64
	carriedCorrupt                              atomic.Uint64
	requeued                                    atomic.Uint64 // counted sent, then spooled, held or lost: possibly not delivered
	unspooled, carriedStart                     atomic.Int64
	errMu                                       sync.Mutex
	carbonErr, spoolErrText                     string

	// Owned by the run goroutine.
	spool     *spool
	g         *graphite.Graphite
	conn      net.Conn
	wbuf      []byte        // the lines of the batch being written (reused)
	dead      chan struct{} // closed by the reader when the peer closed
	everConn  bool
	redo      []written
	redoBytes int
	resend    [][]graphite.Metric  // possibly lost, oldest first
	retry     *backoff.Exponential // reconnect delay; Reset once carbon took a batch
	nextTry   time.Time
	downSince time.Time // first failure of the current outage; zero while up
	spooling  uint64    // points spooled since carbon went away (for the log)
	replaying uint64    // points replayed in the current replay (for the log)
	settled   bool      // Close's settle ran to its end: the redo list is safe

	// held are batches neither delivered nor durable: carbon was away past
	// the retry window and the spool refused them (or there is none). They
	// come after the spool's records and before the queue, are retried to
	// carbon and to the spool, and make every Flush behind them fail.
	held       [][]graphite.Metric
	heldPoints int
	heldWhy    error       // why held is not in the spool
	heldSince  time.Time   // when held last became non-empty
	spoolRetry time.Time   // next spool write attempt after a failure
	spoolErr   error       // the current spool write failure; nil while writes succeed
	flushWait  []*flushReq // Flushes taken from the queue while points were held
	carried    int64       // points of a previous process still in the spool
	droppedAt  uint64      // spool.dropped when last looked at
	corruptAt  uint64      // spool.corrupt when last looked at
}

// New starts a sink that delivers to the carbon plaintext receiver at addr
// ("host:port"). It does not wait for carbon: an unreachable carbon is
// retried (or spooled), not an error. With WithSpool, segments left by a
// previous process are replayed first.
func New(addr string, opts ...Option) (*TCPSink, error) {
	o := options{
		queueSize: 100000, batchPoints: 1000, batchBytes: 64 << 10,
		writeTimeout: 10 * time.Second, dialTimeout: 5 * time.Second,
		minBackoff: 100 * time.Millisecond, maxBackoff: 10 * time.Second,
		retryWindow: 2 * time.Second, redoBytes: 8 << 20, redoAge: 10 * time.Second,
		closeSettle: 1500 * time.Millisecond, closeReplay: 10 * time.Second,
		flushTimeout: 20 * time.Second, log: slog.Default(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	host, port, err := ParseAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("graphite: %w", err)
	}
	if err := o.tags.check(); err != nil {
		return nil, err
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // the library joins host and port with Sprintf
	}
	if o.queueSize <= 0 || o.batchPoints <= 0 || o.batchBytes <= 0 || o.writeTimeout <= 0 || o.flushTimeout <= 0 ||
		o.dialTimeout <= 0 || o.minBackoff <= 0 || o.maxBackoff < o.minBackoff {
		return nil, errors.New("graphite: queue size, batch, timeouts and backoff must be positive")
	}
	s := &TCPSink{
		addr: addr, host: host, port: port, o: o,
		log:  o.log.With("component", "graphite", "addr", addr),
		q:    newQueue(o.queueSize),
		stop: make(chan struct{}), done: make(chan struct{}), closing: make(chan struct{}),
		retry: backoff.New(o.minBackoff, o.maxBackoff, 0.8, 1.2),
	}
	if o.spoolDir != "" {
		if o.spoolMax <= 0 {
			return nil, errors.New("graphite: spool max bytes must be positive")
		}
		sp, err := openSpool(o.spoolDir, o.spoolMax, s.log)
		if err != nil {
			return nil, err
		}
		s.spool = sp
		// Damage in the segments found is counted when they are opened
		// (final before anything is reported) and is theirs.
		s.carried = sp.points
		s.carriedStart.Store(sp.points + int64(sp.corrupt))
		s.carriedCorrupt.Store(sp.corrupt)
		s.droppedAt, s.corruptAt = sp.dropped, sp.corrupt
		s.syncSpoolStats()
	}
	go s.run()
	return s, nil
}

// Send implements Sink.
func (s *TCPSink) Send(ctx context.Context, pts []schema.Point) error {
	ms := make([]graphite.Metric, 0, len(pts))
	for i := range pts {
		err := checkPoint(&pts[i])
		if err == nil {
			err = s.o.tags.lines(&pts[i], func(p *schema.Point) { ms = append(ms, toMetric(p)) })
		}
		if err != nil {
			s.invalid.Add(1)
			s.log.Debug("graphite dropped invalid point", "path", truncate(pts[i].Path), "reason", err.Error())
		}
	}
	return s.q.push(ctx, ms)
}

// Flush implements Sink.
func (s *TCPSink) Flush(ctx context.Context) error {
	f := newFlushReq()
	if err := s.q.pushFlush(f); err != nil {
		return err
	}
	select {
	case <-f.done:
		return f.err
	case <-s.done:
		select {
		case <-f.done:
			return f.err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return fmt.Errorf("graphite: flush: %w", ctx.Err())
	}
}

// Close implements Sink. It flushes, then settles and replays the spool as
// WithClose says. When ctx ends before the queue is flushed, the rest goes
// to the spool (or is counted as lost without one) and the error says so;
// when it ends while settling or replaying, what is not confirmed goes to
// the spool.
func (s *TCPSink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		f := newFlushReq()
		if err := s.q.pushFlush(f); err == nil {
			s.q.close()
			select {
			case <-f.done:
				// An error here (points held in memory) is not final:
				// finish retries them; shutdown counts what is lost.
			case <-ctx.Done():
				s.closeErr = fmt.Errorf("graphite: close: %w", ctx.Err())
			}
		}
		if s.closeErr == nil {
			close(s.closing)
			select {
			case <-s.done:
			case <-ctx.Done():
			}
		}
		close(s.stop)
		s.connMu.Lock()
		if s.abortConn != nil {
			_ = s.abortConn.Close() // unblocks a write stuck on a stalled carbon
		}
		s.connMu.Unlock()
		<-s.done
		if n := s.lost.Load(); n > 0 {
			why := "could not be delivered"
			if sp := s.Stats().SpoolError; sp != "" {
				why = "neither delivered nor spooled: " + sp
			}
			if s.closeErr == nil {
				s.closeErr = fmt.Errorf("graphite: close: %d points %s", n, why)
			} else {
				s.closeErr = fmt.Errorf("%w; %d points %s", s.closeErr, n, why)
			}
		}
	})
	return s.closeErr
}

func (s *TCPSink) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// run is the owner goroutine: everything below it touches the connection
// and the spool from here only.
func (s *TCPSink) run() {
	defer close(s.done)
	defer s.shutdown()
	batch := make([]graphite.Metric, 0, s.o.batchPoints)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if s.stopping() {
			return
		}
		select {
		case <-s.closing:
			s.finish()
			return
		default:
		}
		if len(s.held) > 0 && s.heldDue(false) {
			s.releaseHeld(false)
			if len(s.held) == 0 {
				continue
			}
		}
		spoolBusy := s.spool != nil && !s.spool.empty()
		if spoolBusy && !time.Now().Before(s.nextTry) {
			s.replayOne()
			// New batches go behind the spool (order is kept). While
			// carbon takes the replay they wait in memory, up to half
			// the queue; beyond that, with carbon away, or when someone
			// waits in Flush, they go to the spool so Send and Flush do
			// not wait for the whole replay.
			if n, flushes := s.q.pending(); !s.connected.Load() || flushes > 0 || n >= s.o.queueSize/2 {
				s.drainToSpool(batch[:0])
			}
			continue
		}
		if !spoolBusy && len(s.resend) > 0 && !time.Now().Before(s.nextTry) {
			// Possibly lost batches wait for a connection even when idle.
			s.deliver(nil)
			continue
		}
		var wake <-chan time.Time
		if spoolBusy || len(s.resend) > 0 || len(s.held) > 0 {
			next := s.nextTry
			if len(s.held) > 0 && s.spool != nil && s.spoolRetry.Before(next) {
				next = s.spoolRetry
			}
			timer.Reset(time.Until(next))
			wake = timer.C
		}
		select {
		case <-s.stop:
			return
		case <-s.closing:
			continue
		case <-s.q.ready:
		case <-s.dead:
			s.peerGone("carbon closed the connection")
			// Re-send soon, but never spin against a carbon that
			// accepts and closes at once.
			s.nextTry = time.Now().Add(s.o.minBackoff)
			continue
		case <-wake:
			continue
		}
		// Held points in memory bound what is taken from the queue, as
		// the queue bounds Send.
		for !s.stopping() && s.heldPoints < s.o.queueSize {
			var marker *flushReq
			batch, marker = s.q.take(batch[:0], s.o.batchPoints, s.o.batchBytes)
			if marker != nil {
				s.flushed(marker)
				continue
			}
			if len(batch) == 0 {
				break
			}
			switch {
			case len(s.held) > 0:
				s.hold(batch) // behind the held points: order is kept
			case s.spool != nil && !s.spool.empty():
				s.park(batch)
			default:
				s.deliver(batch)
			}
		}
	}
}

// flushed releases a Flush. Batches waiting for re-send after a dead
// connection were written once but may be lost; with a spool they are made
// durable first, so a checkpoint moved after Flush never depends on memory.
// While points are held (neither delivered nor durable) the Flush waits for
// the next attempt to place them, which answers it either way.
func (s *TCPSink) flushed(f *flushReq) {
	if s.spool != nil && len(s.resend) > 0 {
		s.parkResend()
	}
	if len(s.held) > 0 {
		s.flushWait = append(s.flushWait, f)
		return
	}
	f.answer(nil)
}

// deliver writes ms (after any batches waiting for re-send), retrying with
// backoff; past the retry window (or when the sink stops) everything is
// parked: spooled, or held in memory when the spool refuses it or there is
// none.
func (s *TCPSink) deliver(ms []graphite.Metric) {
	for {
		err := s.writeAll(ms)
		if err == nil {
			return
		}
		if time.Since(s.downSince) >= s.o.retryWindow || s.stopping() || !s.wait(s.nextTry) {
			s.parkResend()
			s.park(ms)
			return
		}
	}
}

// answerFlushes releases the Flushes waiting for held points.
func (s *TCPSink) answerFlushes(err error) {
	for _, f := range s.flushWait {
		f.answer(err)
	}
	s.flushWait = nil
}

// wait sleeps until t; false when the sink is being stopped.
func (s *TCPSink) wait(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return !s.stopping()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-s.stop:
		return false
	}
}

// finish is Close's work on the owner goroutine once the queue is flushed:
// re-send what may have been lost, replay the spool while carbon takes it
// (for at most closeReplay), then keep the connection open until the
// newest write is closeSettle old. A close by carbon in that time puts the
// recent writes back on the re-send list, and the loop starts over.
func (s *TCPSink) finish() {
	replayUntil := time.Now().Add(s.o.closeReplay)
	replay := s.spool != nil && s.o.closeReplay > 0
	heldUntil := time.Now().Add(s.o.retryWindow)
	for !s.stopping() {
		if len(s.resend) > 0 {
			// Retried for the retry window, then spooled (or held).
			s.deliver(nil)
			continue
		}
		if len(s.held) > 0 {
			// Neither carbon nor the spool took them for a retry window
			// already: one more window, ahead of the spool's records
			// (they are durable, these are not), then shutdown counts
			// them as lost.
			if !time.Now().Before(heldUntil) {
				return
			}
			if s.heldDue(true) {
				s.releaseHeld(true)
				continue
			}
			next := heldUntil
			if s.nextTry.Before(next) {
				next = s.nextTry
			}
			if s.spool != nil && s.spoolRetry.Before(next) {
				next = s.spoolRetry
			}
			s.wait(next)
			continue
		}
		if replay && !s.spool.empty() && time.Now().Before(replayUntil) {
			if !s.replayOne() {
				replay = false // carbon away: the spool waits for the next run
			}
			continue
		}
		if s.conn == nil || len(s.redo) == 0 || s.o.closeSettle <= 0 {
			s.settled = true
			return
		}
		left := s.o.closeSettle - time.Since(s.redo[len(s.redo)-1].at)
		if left <= 0 {
			s.settled = true
			return
		}
		tm := time.NewTimer(left)
		select {
		case <-tm.C:
		case <-s.dead:
			tm.Stop()
			s.peerGone("carbon closed the connection while closing")
			// Never spin against a carbon that accepts and closes at once.
			s.wait(time.Now().Add(s.o.minBackoff))
		case <-s.stop:
			tm.Stop()
			return
		}
	}
}

// shutdown runs when the owner exits: what is not delivered goes to the
// spool, or is counted and logged as lost.
func (s *TCPSink) shutdown() {
	var unsettled [][]graphite.Metric
	if !s.settled && s.spool != nil && s.o.closeSettle > 0 {
		// Written but not confirmed by the settle time: carbon may still
		// lose it. At least once: the next run re-sends it.
		now := time.Now()
		n := 0
		for _, w := range s.redo {
			if now.Sub(w.at) < s.o.closeSettle {
				unsettled = append(unsettled, w.ms)
				n += len(w.ms)
			}
		}
		if n > 0 {
			s.log.Info("graphite spooling recent writes not yet settled", "points", n)
		}
	}
	s.redo, s.redoBytes = nil, 0
	// Not delivered: written on a connection that died, held in memory,
	// still queued — in that order.
	left := s.resend
	for _, r := range s.resend {
		s.requeued.Add(uint64(len(r)))
	}
	left = append(left, s.held...)
	s.resend, s.held, s.heldPoints = nil, nil, 0
	var markers []*flushReq
	for {
		batch, marker := s.q.take(nil, s.o.batchPoints, s.o.batchBytes)
		if marker != nil {
			markers = append(markers, marker)
			continue
		}
		if len(batch) == 0 {
			break
		}
		left = append(left, batch)
	}
	if s.conn != nil {
		_ = s.g.Disconnect()
		s.g, s.conn = nil, nil
		s.connected.Store(false)
	}
	notSettled := 0
	for _, ms := range unsettled {
		if s.toSpool(ms) == nil {
			s.requeued.Add(uint64(len(ms)))
		} else {
			notSettled += len(ms)
		}
	}
	if notSettled > 0 {
		// Written to carbon, most likely arrived: counted as sent, not lost.
		s.log.Warn("graphite recent writes neither settled nor spooled", "points", notSettled)
	}
	n, lost := 0, 0
	for _, ms := range left {
		n += len(ms)
		if s.spool == nil || s.toSpool(ms) != nil {
			lost += len(ms)
		}
	}
	s.unspooled.Store(0)
	var err error
	if lost > 0 {
		s.lost.Add(uint64(lost))
		why := errNoSpool
		if s.spool != nil && s.heldWhy != nil {
			why = s.heldWhy
		}
		err = fmt.Errorf("graphite: %d points neither delivered nor spooled at close: %w", lost, why)
		s.log.Error("graphite sink closed with undelivered points: lost", "points", lost, "reason", why.Error())
	}
	for _, f := range markers {
		f.answer(err)
	}
	s.answerFlushes(err)
	if s.spool != nil {
		s.spool.close()
		if n > lost {
			s.log.Warn("graphite sink closed with points in the spool", "points", s.spool.points)
		}
	}
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

var _ Sink = (*TCPSink)(nil)
