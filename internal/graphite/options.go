package graphite

// The TCP sink's settings and their With… options.

import (
	"log/slog"
	"time"
)

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

// WithBackoff sets the reconnect backoff, doubled after each failure (with
// ±20 % jitter). By default, 100ms up to 10s.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = min, max }
}

// WithRetryWindow is how long a batch is retried before it goes to the
// spool (without a spool it is retried until Close). By default, 2s.
func WithRetryWindow(d time.Duration) Option { return func(o *options) { o.retryWindow = d } }

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
