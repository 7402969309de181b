package hook

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve starts f's handler on a loopback port through ServeListener, the
// path every hook listener takes, and returns its address.
func (f *fixture) serve(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, l, f.h, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("hook server did not stop")
		}
	})
	return l.Addr().String()
}

// dial opens a raw connection that fails the test's reads after 5 s.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// statusWithin reads one response's status line from c, waiting at most d;
// it returns 0 when none arrived in time.
func statusWithin(t *testing.T, c net.Conn, br *bufio.Reader, d time.Duration) (int, http.Header) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return 0, nil
		}
		t.Fatalf("reading the answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// startBody sends the headers of a POST announcing a 1 MB body and only
// the first bytes of it: the body never completes.
func startBody(t *testing.T, c net.Conn, hdr string) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: hook\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n{\"what\":", Path, hdr, 1<<20); err != nil {
		t.Fatal(err)
	}
}

// TestUnauthenticatedBodyNotRead: a request whose bearer token is wrong, or
// that presents no credential, is answered 401 without its body being
// read — the body here never completes, and the answer still arrives.
func TestUnauthenticatedBodyNotRead(t *testing.T) {
	f := newFixture(t, t.TempDir())
	addr := f.serve(t)
	for _, hdr := range []string{"Authorization: Bearer wrong-token\r\n", "", "Authorization: Basic " + secret + "\r\n"} {
		c := dial(t, addr)
		startBody(t, c, hdr)
		code, _ := statusWithin(t, c, bufio.NewReader(c), 3*time.Second)
		if code != http.StatusUnauthorized {
			t.Errorf("headers %q: got status %d within 3 s, want 401 before the body is read", hdr, code)
		}
	}
	if f.rec.n() != 0 {
		t.Fatal("callback called")
	}
}

// TestUnauthenticatedBodiesCapped: at most 8 bodies that must be read to be
// authenticated (signed requests) are read at once; the 9th is answered
// 503 with Retry-After at once, a bearer-authenticated request still
// goes through, and a slot freed lets the next signed request in.
func TestUnauthenticatedBodiesCapped(t *testing.T) {
	f := newFixture(t, t.TempDir())
	addr := f.serve(t)
	var stuck []net.Conn
	for i := 0; i < 8; i++ {
		c := dial(t, addr)
		startBody(t, c, "X-Hub-Signature-256: sha256="+strings.Repeat("0", 64)+"\r\n")
		stuck = append(stuck, c)
	}
	body := []byte(`{"what":"deploy","tags":"ninth"}`)
	post := func(hdr map[string]string) (int, http.Header) {
		req, _ := http.NewRequest("POST", "http://"+addr+Path, strings.NewReader(string(body)))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		cl := &http.Client{Timeout: 5 * time.Second}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header
	}
	signed := map[string]string{"X-Hub-Signature-256": sign(body, secret)}
	// The 8 stuck requests reach the handler in their own time: poll,
	// bounded, until the 9th is refused.
	var code int
	var hdr http.Header
	for i := 0; i < 100; i++ {
		if code, hdr = post(signed); code == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") != "1" {
		t.Fatalf("9th signed body: status %d Retry-After %q, want 503 and 1", code, hdr.Get("Retry-After"))
	}
	accepted := f.rec.n()
	if code, _ := post(map[string]string{"Authorization": "Bearer " + secret}); code != http.StatusAccepted {
		t.Fatalf("bearer-authenticated request while the gate is full: %d, want 202", code)
	}
	stuck[0].Close() // its handler fails to read the body and leaves
	for i := 0; i < 100; i++ {
		if code, _ = post(signed); code == http.StatusAccepted {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != http.StatusAccepted || f.rec.n() != accepted+2 {
		t.Fatalf("signed request after a slot was freed: %d, events %d, want 202 and %d", code, f.rec.n(), accepted+2)
	}
}

// TestConnectionsCapped: the 65th connection is not served until one of the
// 64 open ones, each with a request in progress (headers read, body
// coming), closes. (Idle ones would be closed to make room:
// TestIdleConnectionsDoNotBlockTheHook.)
func TestConnectionsCapped(t *testing.T) {
	f := newFixture(t, t.TempDir())
	addr := f.serve(t)
	var open []net.Conn
	for i := 0; i < 64; i++ {
		c := dial(t, addr)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: hook\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{\"what\"", Path, secret)
		open = append(open, c)
	}
	// The server accepts them and reads their headers; the 65th is
	// then left in the kernel's backlog.
	time.Sleep(300 * time.Millisecond)
	last := dial(t, addr)
	body := `{"what":"deploy"}`
	fmt.Fprintf(last, "POST %s HTTP/1.1\r\nHost: hook\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", Path, secret, len(body), body)
	br := bufio.NewReader(last)
	if code, _ := statusWithin(t, last, br, 500*time.Millisecond); code != 0 {
		t.Fatalf("65th connection served (status %d) while 64 are open", code)
	}
	open[0].Close()
	if code, _ := statusWithin(t, last, br, 5*time.Second); code != http.StatusAccepted {
		t.Fatalf("65th connection after one closed: status %d, want 202", code)
	}
}

// TestIdleConnectionsDoNotBlockTheHook (review finding 6): 64 keep-alive
// connections that each sent one GET and stay open, idle, no longer keep
// an authenticated POST out: it is answered 202 within 3 s (it waited for
// the 2-minute idle timeout).
func TestIdleConnectionsDoNotBlockTheHook(t *testing.T) {
	f := newFixture(t, t.TempDir())
	addr := f.serve(t)
	for i := 0; i < 64; i++ {
		c := dial(t, addr)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: hook\r\n\r\n", Path)
		if code, _ := statusWithin(t, c, bufio.NewReader(c), 5*time.Second); code != http.StatusMethodNotAllowed {
			t.Fatalf("connection %d: status %d, want 405", i+1, code)
		}
	}
	last := dial(t, addr)
	body := `{"what":"deploy"}`
	fmt.Fprintf(last, "POST %s HTTP/1.1\r\nHost: hook\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", Path, secret, len(body), body)
	if code, _ := statusWithin(t, last, bufio.NewReader(last), 3*time.Second); code != http.StatusAccepted {
		t.Fatalf("authenticated POST with 64 idle connections open: status %d, want 202", code)
	}
}
