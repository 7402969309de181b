package skyline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	ogórek "github.com/kisielk/og-rek"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cdnmetrics/cdnmetrics/internal/backoff"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Tunables of the transports; variables so tests can shorten them.
var (
	dialTimeout  = 5 * time.Second
	writeTimeout = 10 * time.Second
	backoffMin   = 500 * time.Millisecond
	backoffMax   = 30 * time.Second
	flushTimeout = 2 * time.Second // how long Stop spends sending what is queued
)

// Stats are the feed's counters since it started.
type Stats struct {
	Queued   uint64 // points accepted into a transport queue
	Sent     uint64 // points written (UDP: handed to the socket)
	Dropped  uint64 // points dropped because a queue was full
	Filtered uint64 // points not matching the filter
	Oversize uint64 // UDP points whose datagram would exceed MaxDatagram
	Errors   uint64 // dial and write errors
}

// Feed forwards points to Skyline. Create it with New, start it with Start,
// hand it points with Send from any goroutine, and stop it with Stop.
type Feed struct {
	opts   Options
	filter *regexp.Regexp
	log    *slog.Logger
	queues []chan schema.Point
	runs   []func(ctx context.Context, q chan schema.Point)

	queued, sent, dropped, filtered, oversize, errs atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates o and returns a stopped feed. A nil logger means
// slog.Default().
func New(o Options, log *slog.Logger) (*Feed, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	f := &Feed{opts: o, log: log.With("component", "skyline")}
	if o.Filter != "" {
		f.filter = regexp.MustCompile(o.Filter) // checked by Validate
	}
	if o.PickleAddress != "" {
		f.queues = append(f.queues, make(chan schema.Point, o.Queue))
		f.runs = append(f.runs, f.runPickle)
	}
	if o.UDPAddress != "" {
		f.queues = append(f.queues, make(chan schema.Point, o.Queue))
		f.runs = append(f.runs, f.runUDP)
	}
	return f, nil
}

// Start launches one goroutine per transport. They run until ctx ends or
// Stop is called.
func (f *Feed) Start(ctx context.Context) {
	ctx, f.cancel = context.WithCancel(ctx)
	for i, run := range f.runs {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			run(ctx, f.queues[i])
		}()
	}
}

// Stop ends the transports, after a short best-effort flush of what is
// queued, and waits for them.
func (f *Feed) Stop() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
}

// Send offers points to every transport without blocking: a point that does
// not match the filter is skipped, one that finds its queue full is dropped.
func (f *Feed) Send(pts ...schema.Point) {
	for _, p := range pts {
		if f.filter != nil && !f.filter.MatchString(p.Path) {
			f.filtered.Add(1)
			continue
		}
		for _, q := range f.queues {
			select {
			case q <- p:
				f.queued.Add(1)
			default:
				if f.dropped.Add(1) == 1 {
					f.log.Warn("queue full, dropping points", "queue", f.opts.Queue)
				}
			}
		}
	}
}

// Stats returns a snapshot of the counters.
func (f *Feed) Stats() Stats {
	return Stats{
		Queued: f.queued.Load(), Sent: f.sent.Load(), Dropped: f.dropped.Load(),
		Filtered: f.filtered.Load(), Oversize: f.oversize.Load(), Errors: f.errs.Load(),
	}
}

// nextBatch waits for one point, then takes whatever else is queued up to
// DefaultBatch. It returns nil when ctx ends first.
func nextBatch(ctx context.Context, q chan schema.Point, buf []schema.Point) []schema.Point {
	buf = buf[:0]
	select {
	case p := <-q:
		buf = append(buf, p)
	case <-ctx.Done():
		return nil
	}
	return drain(q, buf)
}

// drain appends queued points to buf without waiting, up to DefaultBatch.
func drain(q chan schema.Point, buf []schema.Point) []schema.Point {
	for len(buf) < DefaultBatch {
		select {
		case p := <-q:
			buf = append(buf, p)
		default:
			return buf
		}
	}
	return buf
}

// EncodePickle returns one pickle-protocol frame: the 4-byte big-endian
// length and a protocol-2 pickle of [(metric, (timestamp, value)), ...], the
// form Graphite's carbon relays send and Horizon reads.
func EncodePickle(pts []schema.Point) ([]byte, error) {
	list := make([]any, len(pts))
	for i, p := range pts {
		list[i] = ogórek.Tuple{p.Path, ogórek.Tuple{p.Time, p.Value}}
	}
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0, 0})
	if err := ogórek.NewEncoderWithConfig(&b, &ogórek.EncoderConfig{Protocol: 2}).Encode(list); err != nil {
		return nil, fmt.Errorf("skyline: pickle: %w", err)
	}
	frame := b.Bytes()
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	return frame, nil
}

// EncodeDatagram returns the MessagePack datagram [metric, [timestamp,
// value]] for one point.
func EncodeDatagram(p schema.Point) ([]byte, error) {
	b, err := msgpack.Marshal([]any{p.Path, []any{p.Time, p.Value}})
	if err != nil {
		return nil, fmt.Errorf("skyline: msgpack: %w", err)
	}
	return b, nil
}

// pickleConn is one TCP connection to Horizon and the reader that notices
// when the peer has gone: Horizon never writes, so any read result means the
// connection is over, often before a write would fail.
type pickleConn struct {
	net.Conn
	dead chan struct{}
}

func (f *Feed) dialPickle(ctx context.Context) (*pickleConn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", f.opts.PickleAddress)
	if err != nil {
		return nil, err
	}
	pc := &pickleConn{Conn: c, dead: make(chan struct{})}
	go func() {
		// Ends when the peer closes or when the writer closes c.
		io.Copy(io.Discard, c)
		close(pc.dead)
	}()
	return pc, nil
}

func (f *Feed) runPickle(ctx context.Context, q chan schema.Point) {
	log := f.log.With("transport", "pickle", "addr", f.opts.PickleAddress)
	var conn *pickleConn
	defer func() {
		if conn != nil {
			conn.Close()
			<-conn.dead
		}
	}()
	retry := backoff.New(backoffMin, backoffMax, 1, 1) // doubling, no jitter
	var batch []schema.Point
	for {
		if len(batch) == 0 {
			if batch = nextBatch(ctx, q, batch); batch == nil {
				f.flushPickle(conn, q, log)
				return
			}
		}
		if conn != nil {
			select {
			case <-conn.dead:
				log.Warn("connection closed by peer")
				conn.Close()
				conn = nil
			default:
			}
		}
		if conn == nil {
			c, err := f.dialPickle(ctx)
			if err != nil {
				f.errs.Add(1)
				wait := retry.NextBackOff()
				log.Warn("connect failed", "err", err, "retry_in", wait)
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
				continue
			}
			log.Info("connected")
			conn = c
			retry.Reset()
		}
		if err := f.writePickle(conn, batch); err != nil {
			f.errs.Add(1)
			log.Warn("write failed, reconnecting", "err", err, "points", len(batch))
			conn.Close()
			<-conn.dead
			conn = nil
			continue // the batch is re-sent on the next connection
		}
		batch = batch[:0]
	}
}

func (f *Feed) writePickle(c net.Conn, batch []schema.Point) error {
	frame, err := EncodePickle(batch)
	if err != nil {
		return err
	}
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.Write(frame); err != nil {
		return err
	}
	f.sent.Add(uint64(len(batch)))
	return nil
}

// flushPickle sends what is still queued, briefly, on an open connection.
func (f *Feed) flushPickle(conn *pickleConn, q chan schema.Point, log *slog.Logger) {
	if conn == nil {
		return
	}
	deadline := time.Now().Add(flushTimeout)
	var batch []schema.Point
	for time.Now().Before(deadline) {
		if batch = drain(q, batch[:0]); len(batch) == 0 {
			return
		}
		if err := f.writePickle(conn, batch); err != nil {
			f.errs.Add(1)
			log.Warn("flush failed", "err", err)
			return
		}
	}
}

func (f *Feed) runUDP(ctx context.Context, q chan schema.Point) {
	log := f.log.With("transport", "udp", "addr", f.opts.UDPAddress)
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	retry := backoff.New(backoffMin, backoffMax, 1, 1) // doubling, no jitter
	var batch []schema.Point
	for {
		if batch = nextBatch(ctx, q, batch); batch == nil {
			if conn != nil {
				f.sendUDP(conn, drain(q, batch[:0]))
			}
			return
		}
		if conn == nil {
			// Dialling UDP only resolves the name; it fails when DNS does.
			c, err := net.DialTimeout("udp", f.opts.UDPAddress, dialTimeout)
			if err != nil {
				f.errs.Add(1)
				f.dropped.Add(uint64(len(batch)))
				wait := retry.NextBackOff()
				log.Warn("resolve failed, dropping batch", "err", err, "points", len(batch), "retry_in", wait)
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
				continue
			}
			conn = c
			retry.Reset()
		}
		f.sendUDP(conn, batch)
	}
}

func (f *Feed) sendUDP(conn net.Conn, batch []schema.Point) {
	for _, p := range batch {
		b, err := EncodeDatagram(p)
		if err != nil {
			f.errs.Add(1)
			continue
		}
		if len(b) > MaxDatagram {
			if f.oversize.Add(1) == 1 {
				f.log.Warn("point too large for one datagram, dropped", "path_len", len(p.Path))
			}
			continue
		}
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		// UDP has no delivery; an error here is usually an ICMP refusal
		// reported on a later write, so count it and go on.
		if _, err := conn.Write(b); err != nil {
			f.errs.Add(1)
			continue
		}
		f.sent.Add(1)
	}
}
