package graphite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	graphite "github.com/marpaia/graphite-golang"

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

// Stats are a sink's counters since it was created. Counts are points.
type Stats struct {
	SentPoints         uint64 // written to carbon (from the queue or replayed from the spool), re-sends not included
	ResentPoints       uint64 // written again because an earlier write may have been lost
	SendErrors         uint64 // failed connects and writes
	Reconnects         uint64 // connections opened after the first one
	DroppedInvalid     uint64 // refused by checkPoint (or unparsable in the spool)
	SpooledPoints      uint64 // written to the disk spool
	ReplayedPoints     uint64 // read back from the spool and written to carbon
	SpoolPoints        int64  // waiting in the spool now
	SpoolBytes         int64  // size of the spool now
	SpoolDroppedPoints uint64 // lost because the spool was full (oldest segment dropped) or unreadable
	SpoolCorruptPoints uint64 // lost in damaged spool records that the replay skipped
	LostPoints         uint64 // given up at Close (carbon away and no spool, or the spool refusing writes)
	QueuePoints        int    // waiting in the memory queue now
	Connected          bool   // a carbon connection is open

	SpoolErrors     uint64 // failed spool writes
	UnspooledPoints int64  // in memory now, neither delivered nor durable (carbon away, spool refusing or absent)

	// Points found in the spool at start (a previous process's), and what
	// became of them: FIFO order sends them out first. With these a caller
	// tells this process's own points from the ones it inherited.
	CarriedPoints   int64  // found at start
	CarriedReplayed uint64 // of those, replayed to carbon (included in SentPoints and ReplayedPoints)
	CarriedDropped  uint64 // of those, dropped (included in SpoolDroppedPoints)
	CarriedCorrupt  uint64 // of those, lost in damaged records (included in SpoolCorruptPoints)

	RequeuedPoints uint64 // counted in SentPoints, then spooled, held or lost as possibly not delivered

	CarbonError string // the last failed connect or write ("" before any)
	SpoolError  string // why the spool refuses writes now ("" while it takes them)
}

// Own returns what became of the points this process was given (those
// Send accepted): delivered to carbon, waiting in the spool, dropped (spool
// full or unreadable, or lost at Close), and still in memory.
func (st Stats) Own() (delivered, spooled, dropped, inMemory uint64) {
	sub := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	carriedLeft := st.CarriedPoints - int64(st.CarriedReplayed) - int64(st.CarriedDropped) - int64(st.CarriedCorrupt)
	delivered = sub(st.SentPoints, st.CarriedReplayed+st.RequeuedPoints)
	spooled = sub(uint64(max(st.SpoolPoints, 0)), uint64(max(carriedLeft, 0)))
	// Damaged records of an earlier run's points are that run's loss
	// (CarriedCorrupt), not this process's.
	dropped = sub(st.SpoolDroppedPoints, st.CarriedDropped) + st.LostPoints + sub(st.SpoolCorruptPoints, st.CarriedCorrupt)
	inMemory = uint64(max(st.UnspooledPoints, 0)) + uint64(max(st.QueuePoints, 0))
	return delivered, spooled, dropped, inMemory
}

// SelfPoints returns the counters as <prefix>.cdnmetrics.sink.<name> points
// stamped now.
func (st Stats) SelfPoints(prefix string, now time.Time) []schema.Point {
	t := now.Unix()
	conn := 0.0
	if st.Connected {
		conn = 1
	}
	vals := []struct {
		name string
		v    float64
	}{
		{"sent_points", float64(st.SentPoints)},
		{"resent_points", float64(st.ResentPoints)},
		{"send_errors", float64(st.SendErrors)},
		{"reconnects", float64(st.Reconnects)},
		{"dropped_invalid_points", float64(st.DroppedInvalid)},
		{"spooled_points", float64(st.SpooledPoints)},
		{"replayed_points", float64(st.ReplayedPoints)},
		{"spool_points", float64(st.SpoolPoints)},
		{"spool_bytes", float64(st.SpoolBytes)},
		{"spool_dropped_points", float64(st.SpoolDroppedPoints)},
		{"spool_corrupt_points", float64(st.SpoolCorruptPoints)},
		{"lost_points", float64(st.LostPoints)},
		{"queue_points", float64(st.QueuePoints)},
		{"connected", conn},
		{"spool_errors", float64(st.SpoolErrors)},
		{"unspooled_points", float64(st.UnspooledPoints)},
	}
	pts := make([]schema.Point, len(vals))
	for i, x := range vals {
		pts[i] = schema.Point{Path: schema.Path(prefix, "cdnmetrics", "sink", x.name), Value: x.v, Time: t}
	}
	return pts
}

// options are TCPSink's settings; see the With… functions for defaults.
type options struct {
	queueSize    int
	batchPoints  int
	batchBytes   int
	writeTimeout time.Duration
	dialTimeout  time.Duration
	minBackoff   time.Duration
	maxBackoff   time.Duration
	retryWindow  time.Duration
	redoBytes    int
	redoAge      time.Duration
	closeSettle  time.Duration
	closeReplay  time.Duration
	flushTimeout time.Duration
	spoolDir     string
	spoolMax     int64
	log          *slog.Logger
	tags         tagForms // provider metrics dotted, tagged or both (tags.go)
	// spoolFault, when set (tests only), is asked before every spool
	// write; an error fails the write as a full disk would.
	spoolFault func() error
}

// Option configures New.
type Option func(*options)

// WithQueueSize bounds the points buffered in memory. By default, 100000.
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// WithBatch sets the most points and bytes of lines in one write. By
// default, 1000 points and 64 KiB.
func WithBatch(points, bytes int) Option {
	return func(o *options) { o.batchPoints, o.batchBytes = points, bytes }
}

// WithWriteTimeout bounds one write to carbon. By default, 10s.
func WithWriteTimeout(d time.Duration) Option { return func(o *options) { o.writeTimeout = d } }

// WithDialTimeout bounds one connection attempt. By default, 5s.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithBackoff sets the reconnect backoff, doubled after each failure (with
// ±20 % jitter). By default, 100ms up to 10s.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = min, max }
}

// WithRetryWindow is how long a batch is retried before it goes to the
// spool (without a spool it is retried until Close). By default, 2s.
func WithRetryWindow(d time.Duration) Option { return func(o *options) { o.retryWindow = d } }

// WithRedo sets how much recently written data is kept to re-send when the
// connection turns out dead: a plaintext write only reaches the kernel, and
// whatever carbon had not read when it closed is lost without an error. By
// default, the last 8 MiB written within 10s.
func WithRedo(maxBytes int, maxAge time.Duration) Option {
	return func(o *options) { o.redoBytes, o.redoAge = maxBytes, maxAge }
}

// WithClose sets what Close does after the last batch was written. It
// keeps the connection open until the newest write is settle old, watching
// for carbon closing it: carbon-cache drops what it received within about
// a second of a SIGTERM (its writer thread sleeps up to 1 s between drains
// and exits without a last one), and a plaintext client has no other ack.
// When carbon goes away in that time, what was written is re-sent or
// spooled; when Close must stop before (its context ended), the unsettled
// writes go to the spool. With a spool, Close also replays it, for at most
// replay, while carbon accepts writes, so a one-shot process leaves nothing
// behind when carbon is up. By default, 1.5s and 10s; 0 turns either off.
func WithClose(settle, replay time.Duration) Option {
	return func(o *options) { o.closeSettle, o.closeReplay = settle, replay }
}

// WithFlushTimeout is how long Flush waits for points that carbon (past
// the retry window) and the spool both refuse before it returns an error
// naming why; the points stay in memory and are still delivered when carbon
// or the disk is back. By default, 20s.
func WithFlushTimeout(d time.Duration) Option { return func(o *options) { o.flushTimeout = d } }

// WithSpool keeps batches in dir (at most maxBytes; the oldest segment is
// dropped beyond that) while carbon is unreachable and replays them in
// order, also after a restart of the process. By default, there is no spool
// and Send blocks once the queue is full.
func WithSpool(dir string, maxBytes int64) Option {
	return func(o *options) { o.spoolDir, o.spoolMax = dir, maxBytes }
}

// WithLogger sets the logger. By default, slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// written is a batch written on the current connection, kept for re-send.
type written struct {
	ms    []graphite.Metric
	bytes int
	at    time.Time
}

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
	dead      chan struct{} // closed by the reader when the peer closed
	everConn  bool
	redo      []written
	redoBytes int
	resend    [][]graphite.Metric // possibly lost, oldest first
	backoff   time.Duration
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

// errNoSpool is why points are held in memory when there is no spool.
var errNoSpool = errors.New("no spool configured (graphite.spool_max_bytes = 0)")

// spoolRetryEvery is how often a spool that refused a write is tried again.
const spoolRetryEvery = time.Second

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

// Stats implements Sink.
func (s *TCPSink) Stats() Stats {
	s.errMu.Lock()
	carbonErr, spoolErr := s.carbonErr, s.spoolErrText
	s.errMu.Unlock()
	return Stats{
		CarbonError: carbonErr, SpoolError: spoolErr,
		SentPoints: s.sent.Load(), ResentPoints: s.resent.Load(), SendErrors: s.sendErrs.Load(),
		Reconnects: s.reconnects.Load(), DroppedInvalid: s.invalid.Load(),
		SpooledPoints: s.spooled.Load(), ReplayedPoints: s.replayed.Load(),
		SpoolPoints: s.spoolPoints.Load(), SpoolBytes: s.spoolBytes.Load(),
		SpoolDroppedPoints: s.spoolDropped.Load(), SpoolCorruptPoints: s.spoolCorrupt.Load(),
		LostPoints:  s.lost.Load(),
		QueuePoints: s.q.length(), Connected: s.connected.Load(),
		SpoolErrors: s.spoolErrs.Load(), UnspooledPoints: s.unspooled.Load(),
		CarriedPoints: s.carriedStart.Load(), CarriedReplayed: s.carriedReplayed.Load(),
		CarriedDropped: s.carriedDropped.Load(), RequeuedPoints: s.requeued.Load(), CarriedCorrupt: s.carriedCorrupt.Load(),
	}
}

// setErrors publishes the last carbon and spool errors for Stats.
func (s *TCPSink) setErrors(carbon, spool *string) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if carbon != nil {
		s.carbonErr = *carbon
	}
	if spool != nil {
		s.spoolErrText = *spool
	}
}

// SelfPoints is Stats().SelfPoints.
func (s *TCPSink) SelfPoints(prefix string, now time.Time) []schema.Point {
	return s.Stats().SelfPoints(prefix, now)
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

// parkResend parks the batches waiting for re-send. They were counted as
// sent when first written; requeued takes that back, so Stats.Own counts
// each point once.
func (s *TCPSink) parkResend() {
	r := s.resend
	s.resend = nil
	for _, ms := range r {
		s.requeued.Add(uint64(len(ms)))
		s.park(ms)
	}
}

// park takes a batch carbon did not take in time: into the spool, or into
// memory behind the held points when the spool refuses it, is not due for
// another try, or does not exist.
func (s *TCPSink) park(ms []graphite.Metric) {
	if len(ms) == 0 {
		return
	}
	if len(s.held) == 0 && s.spool != nil && !time.Now().Before(s.spoolRetry) {
		if s.toSpool(ms) == nil {
			return
		}
	}
	s.hold(ms)
}

// hold keeps a copy of ms in memory, neither delivered nor durable.
func (s *TCPSink) hold(ms []graphite.Metric) {
	first := len(s.held) == 0
	if first {
		s.heldSince = time.Now()
		if s.spool == nil {
			s.heldWhy = errNoSpool
		}
	}
	s.held = append(s.held, append([]graphite.Metric(nil), ms...))
	s.heldPoints += len(ms)
	s.unspooled.Store(int64(s.heldPoints))
	if first {
		s.log.Error("graphite points neither delivered nor spooled: kept in memory, retried to carbon and the spool",
			"reason", s.heldErr().Error())
	}
}

// heldErr says why held points are neither delivered nor durable.
func (s *TCPSink) heldErr() error {
	why := s.heldWhy
	if why == nil {
		why = errors.New("spool write failed")
	}
	carbon := "carbon unreachable"
	s.errMu.Lock()
	if s.carbonErr != "" {
		carbon += " (" + s.carbonErr + ")"
	}
	s.errMu.Unlock()
	return fmt.Errorf("graphite: %d points neither delivered nor spooled: %s; %w", s.heldPoints, carbon, why)
}

// heldDue reports whether an attempt to place the held points is due:
// carbon's backoff ran out (and the spool's older records are out of the
// way, unless outOfOrder), or the spool's retry time came.
func (s *TCPSink) heldDue(outOfOrder bool) bool {
	now := time.Now()
	if !now.Before(s.nextTry) && (outOfOrder || s.spool == nil || s.spool.empty()) {
		return true
	}
	return s.spool != nil && !now.Before(s.spoolRetry)
}

// releaseHeld tries to place the held points, to carbon first, then to
// the spool, each when due. Flushes waiting behind them are answered: nil
// once nothing is held, the reason when an attempt left points held (and,
// when memory is full, so are those still in the queue, which all come
// after the held points).
// With outOfOrder (Close) held points may overtake the spool's records:
// better out of order than lost.
//
// Flushes fail only once points were held for the flush timeout (carbon
// may come back within it), and only right after the spool (or, without
// one, carbon) refused them again, so a Flush sees the latest try.
func (s *TCPSink) releaseHeld(outOfOrder bool) {
	now := time.Now()
	tried := false // the last resort was tried: the spool, or carbon without one
	if !now.Before(s.nextTry) && (outOfOrder || s.spool == nil || s.spool.empty()) {
		tried = s.spool == nil
		for len(s.held) > 0 {
			if s.writeAll(s.held[0]) != nil {
				break
			}
			s.popHeld()
		}
		if len(s.resend) > 0 {
			// Written on the connection that just failed: they go first.
			for _, r := range s.resend {
				s.heldPoints += len(r)
				s.requeued.Add(uint64(len(r)))
			}
			s.held = append(s.resend, s.held...)
			s.resend = nil
		}
	}
	if len(s.held) > 0 && s.spool != nil && !now.Before(s.spoolRetry) {
		tried = true
		for len(s.held) > 0 {
			if s.toSpool(s.held[0]) != nil {
				break
			}
			s.popHeld()
		}
	}
	s.unspooled.Store(int64(s.heldPoints))
	if len(s.held) == 0 {
		s.log.Info("graphite points held in memory are now delivered or spooled")
		s.answerFlushes(nil)
		s.q.refuse(nil)
		return
	}
	if !tried || time.Since(s.heldSince) < s.o.flushTimeout {
		return // Flushes wait on: carbon may be back soon, the disk freed
	}
	err := s.heldErr()
	s.answerFlushes(err)
	if s.heldPoints >= s.o.queueSize {
		// Memory is full too: the queue is not taken from, so Flushes
		// in it fail now, and Send fails instead of waiting forever.
		s.q.failFlushes(err)
		s.q.refuse(err)
	} else {
		s.q.refuse(nil)
	}
}

// popHeld removes the first held batch (placed).
func (s *TCPSink) popHeld() {
	s.heldPoints -= len(s.held[0])
	s.held[0] = nil
	s.held = s.held[1:]
	if len(s.held) == 0 {
		s.held = nil
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

// writeAll makes sure there is a live connection, then writes the re-send
// list and ms. On failure the connection is closed, everything that may
// not have arrived is on the re-send list except ms, and the backoff is
// armed.
func (s *TCPSink) writeAll(ms []graphite.Metric) error {
	if s.conn != nil {
		select {
		case <-s.dead:
			// Checked before writing: the first write after carbon closed
			// would "succeed" and be lost.
			s.peerGone("carbon closed the connection")
		default:
		}
	}
	if s.conn == nil {
		if err := s.connect(); err != nil {
			s.failed("connect", err)
			return err
		}
	}
	for len(s.resend) > 0 {
		r := s.resend[0]
		if err := s.write(r); err != nil {
			s.failed("write", err)
			return err
		}
		s.resent.Add(uint64(len(r)))
		s.resend = s.resend[1:]
	}
	s.resend = nil
	if len(ms) == 0 {
		s.backoff, s.downSince = 0, time.Time{}
		return nil
	}
	if err := s.write(ms); err != nil {
		s.failed("write", err)
		return err
	}
	s.sent.Add(uint64(len(ms)))
	s.backoff, s.downSince = 0, time.Time{}
	return nil
}

// write sends one batch through the library with a deadline and records it
// for re-send.
func (s *TCPSink) write(ms []graphite.Metric) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.o.writeTimeout)); err != nil {
		return err
	}
	if err := s.g.SendMetrics(ms); err != nil {
		return err
	}
	n := 0
	for i := range ms {
		n += metricSize(&ms[i])
	}
	now := time.Now()
	// ms may be the caller's reused buffer; the redo copy must be ours.
	s.redo = append(s.redo, written{ms: append([]graphite.Metric(nil), ms...), bytes: n, at: now})
	s.redoBytes += n
	for len(s.redo) > 1 && (s.redoBytes > s.o.redoBytes || now.Sub(s.redo[0].at) > s.o.redoAge) {
		s.redoBytes -= s.redo[0].bytes
		s.redo[0] = written{}
		s.redo = s.redo[1:]
	}
	return nil
}

// failed closes the connection after an error and arms the backoff.
func (s *TCPSink) failed(op string, err error) {
	s.sendErrs.Add(1)
	if s.conn != nil {
		s.peerGone(op + " failed: " + err.Error())
	}
	if s.backoff == 0 {
		s.backoff = s.o.minBackoff
	} else {
		s.backoff = min(s.backoff*2, s.o.maxBackoff)
	}
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(s.backoff))
	s.nextTry = time.Now().Add(s.backoff + jitter)
	if s.downSince.IsZero() {
		s.downSince = time.Now()
	}
	msg := op + ": " + err.Error()
	s.setErrors(&msg, nil)
	s.log.Warn("graphite reconnect scheduled", "op", op, "err", err, "backoff", (s.backoff + jitter).Round(time.Millisecond).String())
}

// connect opens a connection through the library and starts its reader.
func (s *TCPSink) connect() error {
	g := &graphite.Graphite{Host: s.host, Port: s.port, Protocol: "tcp", Timeout: s.o.dialTimeout, DisableLog: true}
	if err := g.Connect(); err != nil {
		return err
	}
	conn, err := libConn(g)
	if err != nil {
		_ = g.Disconnect()
		return err
	}
	if conn.LocalAddr().String() == conn.RemoteAddr().String() {
		// With carbon down on a port in the ephemeral range, Linux can
		// connect the socket to itself; everything written would vanish.
		_ = g.Disconnect()
		return errors.New("connected to itself (carbon down, port in the ephemeral range)")
	}
	s.g, s.conn = g, conn
	dead := make(chan struct{})
	s.dead = dead
	go watchPeer(conn, dead)
	s.connMu.Lock()
	s.abortConn = conn
	s.connMu.Unlock()
	if s.everConn {
		s.reconnects.Add(1)
	}
	s.everConn = true
	s.connected.Store(true)
	s.log.Info("graphite connected", "local", conn.LocalAddr().String())
	return nil
}

// watchPeer blocks in Read: carbon never writes to a plaintext client, so
// any return means the peer closed (EOF) or the connection broke.
func watchPeer(conn net.Conn, dead chan struct{}) {
	var b [64]byte
	for {
		if _, err := conn.Read(b[:]); err != nil {
			close(dead)
			return
		}
	}
}

// peerGone closes the connection (once) and moves everything written on it
// recently to the re-send list, in order, ahead of what was already there.
func (s *TCPSink) peerGone(why string) {
	if s.conn == nil {
		return
	}
	_ = s.g.Disconnect() // the library panics on a second Disconnect: conn is nil-ed right after
	s.g, s.conn, s.dead = nil, nil, nil
	s.connMu.Lock()
	s.abortConn = nil
	s.connMu.Unlock()
	s.connected.Store(false)
	pts := 0
	redo := make([][]graphite.Metric, 0, len(s.redo)+len(s.resend))
	for _, w := range s.redo {
		redo = append(redo, w.ms)
		pts += len(w.ms)
	}
	s.resend = append(redo, s.resend...)
	s.redo, s.redoBytes = nil, 0
	s.log.Warn("graphite disconnected", "reason", why, "resend_points", pts)
}

// toSpool makes ms durable in the spool, in one attempt. On failure the
// caller keeps ms; the spool is tried again after spoolRetryEvery.
func (s *TCPSink) toSpool(ms []graphite.Metric) error {
	buf := make([]byte, 0, len(ms)*64)
	for i := range ms {
		buf = appendMetric(buf, &ms[i])
	}
	var err error
	if s.o.spoolFault != nil {
		err = s.o.spoolFault()
	}
	if err == nil {
		err = s.spool.append(buf, len(ms))
	}
	s.syncSpoolStats() // a drop of old segments counts even if the write failed
	if err != nil {
		s.spoolErrs.Add(1)
		s.spoolRetry = time.Now().Add(spoolRetryEvery)
		if s.spoolErr == nil {
			// Once per episode; every later failure is counted only.
			s.log.Error("graphite spool write failed", "dir", s.spool.dir, "err", err)
		}
		s.spoolErr = err
		s.heldWhy = fmt.Errorf("spool %s refuses writes: %w", s.spool.dir, err)
		msg := s.heldWhy.Error()
		s.setErrors(nil, &msg)
		return err
	}
	if s.spoolErr != nil {
		s.log.Info("graphite spool writable again", "dir", s.spool.dir, "failed_writes", s.spoolErrs.Load())
		s.spoolErr = nil
		empty := ""
		s.setErrors(nil, &empty)
	}
	if s.spooling == 0 {
		s.log.Warn("graphite carbon unavailable: spooling to disk", "dir", s.spool.dir)
	}
	s.spooling += uint64(len(ms))
	s.spooled.Add(uint64(len(ms)))
	s.log.Debug("graphite spooled", "points", len(ms))
	s.syncSpoolStats()
	return nil
}

// drainToSpool moves whatever is queued into the spool so Send does not
// block while a replay is running.
func (s *TCPSink) drainToSpool(batch []graphite.Metric) {
	for s.heldPoints < s.o.queueSize {
		var marker *flushReq
		batch, marker = s.q.take(batch[:0], s.o.batchPoints, s.o.batchBytes)
		if marker != nil {
			s.flushed(marker)
			continue
		}
		if len(batch) == 0 {
			return
		}
		if len(s.held) > 0 {
			s.hold(batch)
		} else {
			s.park(batch)
		}
	}
}

// replayOne writes the oldest spooled batch to carbon; false when it could
// not (carbon unreachable, spool unreadable, or nothing left).
func (s *TCPSink) replayOne() bool {
	payload, recLen, ok, err := s.spool.peek()
	if err != nil {
		s.log.Error("graphite spool read failed", "err", err)
		s.nextTry = time.Now().Add(time.Second)
		return false
	}
	if !ok {
		s.syncSpoolStats()
		return false
	}
	s.syncSpoolStats() // damage skipped on the way came before this record
	ms, bad := parseLines(payload, nil)
	if bad > 0 {
		s.invalid.Add(uint64(bad))
	}
	if err := s.writeAll(ms); err != nil {
		return false // writeAll armed the backoff; the record stays
	}
	s.spool.ack(recLen, len(ms)+bad)
	s.replayed.Add(uint64(len(ms)))
	if s.carried > 0 {
		// A previous process's points leave the spool first (FIFO).
		k := min(s.carried, int64(len(ms)))
		s.carriedReplayed.Add(uint64(k))
		s.carried -= min(s.carried, int64(len(ms)+bad))
	}
	if s.replaying == 0 {
		s.log.Info("graphite replaying spool", "points", s.spool.points+int64(len(ms)))
	}
	s.replaying += uint64(len(ms))
	if s.spool.empty() {
		s.log.Info("graphite spool replayed", "points", s.replaying, "spooled_during_outage", s.spooling)
		s.replaying, s.spooling = 0, 0
	}
	s.syncSpoolStats()
	return true
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

func (s *TCPSink) syncSpoolStats() {
	if d := s.spool.dropped - s.droppedAt; d > 0 {
		// Drops take the oldest segments first: a previous process's
		// points go before this one's.
		k := min(s.carried, int64(d))
		s.carried -= k
		s.carriedDropped.Add(uint64(k))
		s.droppedAt = s.spool.dropped
	}
	if d := s.spool.corrupt - s.corruptAt; d > 0 {
		// Damage met by the replay: FIFO, so a previous process's
		// points are the first lost.
		k := min(s.carried, int64(d))
		s.carried -= k
		s.carriedCorrupt.Add(uint64(k))
		s.corruptAt = s.spool.corrupt
	}
	s.spoolPoints.Store(s.spool.points)
	s.spoolBytes.Store(s.spool.total)
	s.spoolDropped.Store(s.spool.dropped)
	s.spoolCorrupt.Store(s.spool.corrupt)
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

// libConn returns the net.Conn inside the library's Graphite value. The
// library keeps it unexported and offers no deadlines; without a deadline a
// stalled carbon would block the owner forever, and without reading from
// the socket a carbon restart loses the next batch. The field is only read,
// by the goroutine that owns g.
func libConn(g *graphite.Graphite) (net.Conn, error) {
	f := reflect.ValueOf(g).Elem().FieldByName("conn")
	if !f.IsValid() || f.Type() != reflect.TypeFor[net.Conn]() {
		return nil, errors.New("graphite: graphite-golang has no conn field of type net.Conn (library changed?)")
	}
	c := *(*net.Conn)(unsafe.Pointer(f.UnsafeAddr()))
	if c == nil {
		return nil, errors.New("graphite: not connected")
	}
	return c, nil
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

var _ Sink = (*TCPSink)(nil)
