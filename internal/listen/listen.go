// Package listen serves every HTTP listener the program opens (the deploy
// hook today; admin and real-user listeners later) with the same
// protections: a cap on open connections (LimitListener), a cap on request
// bodies read before their sender is authenticated (Gate), and a deadline
// on every phase of a request (NewServer). A listener that cannot bind is
// an error returned by Open, for the caller to treat as fatal.
package listen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults for the caps; each listener's configuration may change them.
const (
	// DefaultMaxConnections is how many connections a listener keeps open
	// at once (max_connections).
	DefaultMaxConnections = 64
	// DefaultMaxInflightBodies is how many request bodies are read at once
	// before their sender is authenticated (max_inflight_bodies).
	DefaultMaxInflightBodies = 8
	// RetryAfter is what a request refused for want of a body slot is
	// told to wait.
	RetryAfter = time.Second
)

// Open listens on addr (host:port) with at most maxConns connections open
// at once (DefaultMaxConnections when maxConns <= 0).
func Open(addr string, maxConns int) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return LimitListener(l, maxConns), nil
}

// LimitListener returns l accepting at most n simultaneously open
// connections (DefaultMaxConnections when n <= 0): past that, Accept waits
// until one closes, and new connections wait in the kernel's backlog
// instead of costing a goroutine and buffers each. A listener that is
// already limited is returned as it is.
func LimitListener(l net.Listener, n int) net.Listener {
	if _, ok := l.(*limitListener); ok {
		return l
	}
	if n <= 0 {
		n = DefaultMaxConnections
	}
	return &limitListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{}), conns: map[*limitConn]struct{}{}}
}

// When every slot is taken, the listener takes one back from a connection
// that holds it without a request in progress, so that nobody can keep
// the cap with idle keep-alive connections (renewed with a request now
// and then) or with connections that never complete a request header:
// first the one idle longest, else one new for newGrace. A request in
// progress (its headers read) is never cut. Retried every evictEvery
// while Accept waits.
const (
	newGrace   = time.Second
	evictEvery = 100 * time.Millisecond
)

type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[*limitConn]struct{} // open, for eviction
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		tick := time.NewTicker(evictEvery)
		defer tick.Stop()
		for waiting := true; waiting; {
			l.evictOne()
			select {
			case l.slots <- struct{}{}:
				waiting = false
			case <-tick.C:
			case <-l.done:
				return nil, net.ErrClosed
			}
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	lc := &limitConn{Conn: c}
	lc.release = func() {
		l.mu.Lock()
		delete(l.conns, lc)
		l.mu.Unlock()
		<-l.slots
	}
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// evictOne closes the connection idle longest, else the one silent
// longest past newGrace; it does nothing when every connection is busy or
// not served by an http.Server that reports its states (see Serve).
func (l *limitListener) evictOne() {
	var idle, silent *limitConn
	now := time.Now()
	l.mu.Lock()
	for c := range l.conns {
		c.mu.Lock()
		switch {
		case !c.known:
		case c.state == http.StateIdle && (idle == nil || c.since.Before(idle.since)):
			idle = c
		case c.state == http.StateNew && now.Sub(c.since) >= newGrace && (silent == nil || c.since.Before(silent.since)):
			silent = c
		}
		c.mu.Unlock()
	}
	l.mu.Unlock()
	if idle == nil {
		idle = silent
	}
	if idle != nil {
		idle.Close()
	}
}

// trackState is the http.Server ConnState hook that tells the listener
// which connections hold a slot without a request in progress.
func trackState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	lc.mu.Lock()
	lc.state, lc.since, lc.known = st, time.Now(), true
	lc.mu.Unlock()
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()

	mu    sync.Mutex
	known bool           // state is reported (an http.Server's ConnState)
	state http.ConnState // meaningful when known
	since time.Time      // when it entered state
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Gate bounds the request bodies read at once before their sender is
// authenticated, so that unauthenticated senders cannot make the program
// hold more than n bodies in memory.
type Gate struct{ slots chan struct{} }

// NewGate returns a gate of n slots (DefaultMaxInflightBodies when n <= 0).
func NewGate(n int) *Gate {
	if n <= 0 {
		n = DefaultMaxInflightBodies
	}
	return &Gate{slots: make(chan struct{}, n)}
}

// Enter takes a slot without waiting; ok is false when every slot is
// taken (answer with Busy). leave gives the slot back; it may be called
// more than once.
func (g *Gate) Enter() (leave func(), ok bool) {
	select {
	case g.slots <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-g.slots }) }, true
	default:
		return func() {}, false
	}
}

// Cap is the number of slots.
func (g *Gate) Cap() int { return cap(g.slots) }

// Busy answers 503 Service Unavailable with Retry-After: a sender that
// retries (GitHub, a CI job) comes back when a slot is likely free, rather
// than being made to wait while holding a connection. The connection is
// closed after the answer, so the unread body is not drained first.
func Busy(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, msg+"\n")
}

// NewServer returns the http.Server every listener uses: a deadline on the
// request headers (slow-header senders), on the whole request, on the
// answer and on idle keep-alive connections, and a cap on header size.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A handler may wait for graphite-web (bounded by the events
		// timeout) before answering.
		WriteTimeout: 60 * time.Second,
		// Keep-alive connections cost a slot of the connection cap; a
		// client that posts again later reconnects. (When the cap is
		// reached, idle ones are closed at once: see LimitListener.)
		IdleTimeout:    10 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve serves srv on l, limited to maxConns open connections (see
// LimitListener), until ctx is done; then it shuts down, letting requests
// in flight finish for up to 10 s.
func Serve(ctx context.Context, l net.Listener, srv *http.Server, maxConns int) error {
	l = LimitListener(l, maxConns)
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		trackState(c, st)
		if prev != nil {
			prev(c, st)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("shutdown %s: %w", l.Addr(), err)
	}
	<-errc
	return nil
}
