package graphite

import (
	"bufio"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeCarbon is a loopback line receiver that can refuse, drop
// connections, stall and restart on the same port, the way carbon does.
type fakeCarbon struct {
	t    testing.TB
	addr string

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	lines   map[string]int
	total   int
	stalled chan struct{} // handlers wait on it before reading; nil: read at once
	wg      sync.WaitGroup
}

func newFakeCarbon(t testing.TB) *fakeCarbon {
	f := &fakeCarbon{t: t, conns: map[net.Conn]struct{}{}, lines: map[string]int{}}
	// A port below the ephemeral range (32768+): the fake stops and
	// re-listens on it, and an ephemeral port released meanwhile is soon
	// handed to some other process's ":0" listener or connection.
	var ln net.Listener
	for tries := 0; ln == nil; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(20000+rand.IntN(12000)))
		if err == nil {
			ln = l
		} else if tries > 200 {
			t.Fatal(err)
		}
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.stop)
	return f
}

// downAddr returns a loopback address nothing listens on (a fake that was
// never started); start() brings it up.
func downFakeCarbon(t testing.TB) *fakeCarbon {
	f := newFakeCarbon(t)
	f.stop()
	return f
}

func (f *fakeCarbon) serve(ln net.Listener) {
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			if f.ln != ln {
				// stop ran between Accept and here.
				f.mu.Unlock()
				c.Close()
				return
			}
			f.conns[c] = struct{}{}
			stall := f.stalled
			f.mu.Unlock()
			f.wg.Add(1)
			go f.handle(c, stall)
		}
	}()
}

func (f *fakeCarbon) handle(c net.Conn, stall chan struct{}) {
	defer f.wg.Done()
	defer func() {
		c.Close()
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	if stall != nil {
		<-stall
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return // like carbon, a last line without '\n' is dropped
		}
		f.mu.Lock()
		f.lines[line[:len(line)-1]]++
		f.total++
		f.mu.Unlock()
	}
}

// start listens again on the same port (after stop).
func (f *fakeCarbon) start() {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", f.addr)
		if err == nil {
			f.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("fake carbon: relisten %s: %v", f.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dropConns closes every client connection but keeps listening.
func (f *fakeCarbon) dropConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// stop closes the listener and every connection: a refused port.
func (f *fakeCarbon) stop() {
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	if f.stalled != nil {
		close(f.stalled)
		f.stalled = nil
	}
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// stall makes new connections accept but not read; unstall releases them.
func (f *fakeCarbon) stall() {
	f.mu.Lock()
	f.stalled = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeCarbon) unstall() {
	f.mu.Lock()
	if f.stalled != nil {
		close(f.stalled)
		f.stalled = nil
	}
	f.mu.Unlock()
}

// missing returns how many of want were never received.
func (f *fakeCarbon) missing(want []string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, l := range want {
		if f.lines[l] == 0 {
			n++
		}
	}
	return n
}

// waitAll polls until every line of want arrived; it fails the test with
// the number missing after timeout.
func (f *fakeCarbon) waitAll(want []string, timeout time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := f.missing(want)
		if m == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("fake carbon: %d of %d lines never arrived", m, len(want))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fakeCarbon) received() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

func (f *fakeCarbon) connCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}
