package listen

import (
	"net"
	"net/http/httptest"
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
