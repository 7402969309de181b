package listen

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLimitListenerWaitsForAClose: with n = 2, a third connection is not
// accepted until one of the first two closes; Close releases Accept.
func TestLimitListenerWaitsForAClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitListener(inner, 2)
	if LimitListener(l, 5) != l {
		t.Error("a limited listener was limited again")
	}
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", inner.Addr().String(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	first := <-accepted
	<-accepted
	select {
	case <-accepted:
		t.Fatal("third connection accepted while two are open")
	case <-time.After(300 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("third connection not accepted after one closed")
	}
	l.Close()
	select {
	case _, ok := <-accepted:
		if ok {
			t.Fatal("accepted after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}

func TestGateAndBusy(t *testing.T) {
	g := NewGate(2)
	l1, ok1 := g.Enter()
	_, ok2 := g.Enter()
	_, ok3 := g.Enter()
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("enter = %v %v %v, want true true false", ok1, ok2, ok3)
	}
	l1()
	l1() // a second leave must not free a second slot
	if _, ok := g.Enter(); !ok {
		t.Fatal("slot not freed by leave")
	}
	if _, ok := g.Enter(); ok {
		t.Fatal("double leave freed two slots")
	}
	w := httptest.NewRecorder()
	Busy(w, "busy")
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" || w.Header().Get("Connection") != "close" {
		t.Fatalf("Busy: %d %v", w.Code, w.Header())
	}
}

// TestIdleConnectionsCannotHoldTheCap (review finding 6): 64 keep-alive
// connections (the default cap) each send a GET, read the answer and stay
// open, renewing with another GET now and then; a legitimate POST must
// still be answered within 3 s (it waited for the 2-minute idle timeout).
func TestIdleConnectionsCannotHoldTheCap(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := inner.Addr().String()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, r.Method)
	})
	srv := NewServer(h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, inner, srv, DefaultMaxConnections) }()
	defer func() {
		cancel()
		<-served
	}()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	ready := make(chan bool, DefaultMaxConnections)
	for range DefaultMaxConnections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				ready <- false
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			get := func() bool {
				c.SetDeadline(time.Now().Add(2 * time.Second))
				if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					return false
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return false
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return true
			}
			ready <- get()
			for range 40 { // renew for at most 40 × 250 ms
				select {
				case <-stop:
					return
				case <-time.After(250 * time.Millisecond):
				}
				if !get() {
					return // closed by the server: what the fix does
				}
			}
		}()
	}
	for range DefaultMaxConnections {
		if !<-ready {
			t.Fatal("an idle client could not connect and get an answer")
		}
	}
	client := &http.Client{Timeout: 3 * time.Second}
	start := time.Now()
	resp, err := client.Post("http://"+addr+"/", "text/plain", strings.NewReader("deploy"))
	if err != nil {
		t.Fatalf("POST with %d idle connections open: %v after %v", DefaultMaxConnections, err, time.Since(start))
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "POST" {
		t.Fatalf("POST answered %d %q", resp.StatusCode, body)
	}
}

// TestSilentConnectionsCannotHoldTheCap: 64 connections that never send a
// byte hold the cap for the 10 s header timeout at most; when a client
// waits, those silent for 1 s are closed, and its POST is answered within
// 3 s.
func TestSilentConnectionsCannotHoldTheCap(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := inner.Addr().String()
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, inner, srv, DefaultMaxConnections) }()
	defer func() {
		cancel()
		<-served
	}()
	for range DefaultMaxConnections {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Post("http://"+addr+"/", "text/plain", strings.NewReader("deploy"))
	if err != nil {
		t.Fatalf("POST with %d silent connections open: %v", DefaultMaxConnections, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST answered %d", resp.StatusCode)
	}
}
