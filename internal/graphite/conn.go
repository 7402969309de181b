package graphite

// The connection to carbon: dial, deadlined writes with a redo list,
// noticing a peer that went away, and arming the reconnect backoff.

import (
	"errors"
	"net"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	graphite "github.com/marpaia/graphite-golang"
)

// written is a batch written on the current connection, kept for re-send.
type written struct {
	ms    []graphite.Metric
	bytes int
	at    time.Time
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
		s.retry.Reset()
		s.downSince = time.Time{}
		return nil
	}
	if err := s.write(ms); err != nil {
		s.failed("write", err)
		return err
	}
	s.sent.Add(uint64(len(ms)))
	s.retry.Reset()
	s.downSince = time.Time{}
	return nil
}

// write sends one batch through the library with a deadline and records it
// for re-send.
func (s *TCPSink) write(ms []graphite.Metric) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.o.writeTimeout)); err != nil {
		return err
	}
	// The lines the library's SendMetrics would write (tested byte for
	// byte), without its fmt.Sprintf and fresh buffer per line: through
	// carbon-c-relay, which reads faster than carbon-cache, that
	// formatting was what held the sink to ~70 % of a raw line sender
	// (README "Benchmarks").
	s.wbuf = appendMetrics(s.wbuf[:0], ms)
	if _, err := s.conn.Write(s.wbuf); err != nil {
		return err
	}
	if cap(s.wbuf) > 4<<20 {
		s.wbuf = nil // an outsized batch's buffer is not kept
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

// appendMetrics appends ms as plaintext lines exactly as the library's
// SendMetrics writes them over TCP with no prefix: "name value timestamp\n",
// a zero Metric skipped, a zero timestamp replaced by now.
func appendMetrics(dst []byte, ms []graphite.Metric) []byte {
	for i := range ms {
		m := &ms[i]
		if *m == (graphite.Metric{}) {
			continue
		}
		ts := m.Timestamp
		if ts == 0 {
			ts = time.Now().Unix()
		}
		dst = append(dst, m.Name...)
		dst = append(dst, ' ')
		dst = append(dst, m.Value...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, '\n')
	}
	return dst
}

// failed closes the connection after an error and arms the backoff.
func (s *TCPSink) failed(op string, err error) {
	s.sendErrs.Add(1)
	if s.conn != nil {
		s.peerGone(op + " failed: " + err.Error())
	}
	wait := s.retry.NextBackOff()
	s.nextTry = time.Now().Add(wait)
	if s.downSince.IsZero() {
		s.downSince = time.Now()
	}
	msg := op + ": " + err.Error()
	s.setErrors(&msg, nil)
	s.log.Warn("graphite reconnect scheduled", "op", op, "err", err, "backoff", wait.Round(time.Millisecond).String())
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
