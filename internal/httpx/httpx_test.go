package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func fastClient(opts ...Option) *Client {
	var slept atomic.Int64
	base := []Option{
		WithClock(time.Now, func(ctx context.Context, d time.Duration) error { slept.Add(int64(d)); return ctx.Err() }),
		WithLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))),
	}
	return New("testvendor", append(base, opts...)...)
}

func TestRetriesOn5xxAndHonoursRetryAfter(t *testing.T) {
	var n atomic.Int32
	var waits []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(500)
		case 2:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	defer srv.Close()
	c := New("testvendor", WithClock(time.Now, func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }),
		WithLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))))
	resp, err := c.Do(context.Background(), Request{URL: srv.URL + "/stats?x=1"})
	if err != nil || string(resp.Body) != "ok" {
		t.Fatalf("resp=%v err=%v", resp, err)
	}
	if len(waits) != 2 || waits[1] != 7*time.Second {
		t.Fatalf("waits = %v, want a backoff then Retry-After's 7s", waits)
	}
	if waits[0] < 250*time.Millisecond || waits[0] > 500*time.Millisecond {
		t.Fatalf("first backoff %v outside [base/2, base]", waits[0])
	}
}

func TestErrorNamesVendorEndpointStatusAndRedactsEchoedToken(t *testing.T) {
	const token = "tok-abcdef123456"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		fmt.Fprintf(w, "<html>denied for key %s</html>", r.Header.Get("Fastly-Key"))
	}))
	defer srv.Close()
	c := fastClient()
	_, err := c.Do(context.Background(), Request{URL: srv.URL + "/service?page=2", Header: http.Header{"Fastly-Key": {token}}})
	if err == nil {
		t.Fatal("want error")
	}
	msg := err.Error()
	for _, want := range []string{"testvendor", "GET /service", "HTTP 403", "denied"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, token) || strings.Contains(msg, "page=2") {
		t.Fatalf("error leaks token or query: %q", msg)
	}
}

func TestBodyCapAndNoRetryOn4xx(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/big" {
			w.Write(bytes.Repeat([]byte("x"), 2048))
			return
		}
		w.WriteHeader(400)
	}))
	defer srv.Close()
	c := fastClient(WithMaxBody(1024))
	if _, err := c.Do(context.Background(), Request{URL: srv.URL + "/big"}); err == nil || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("err = %v, want body cap", err)
	}
	n.Store(0)
	if _, err := c.Do(context.Background(), Request{URL: srv.URL + "/bad"}); err == nil || n.Load() != 1 {
		t.Fatalf("400 retried %d times (err %v), want 1 attempt", n.Load(), err)
	}
}

func TestRetryAfterTooLongFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	c := fastClient(WithMaxWait(time.Minute))
	_, err := c.Do(context.Background(), Request{URL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "HTTP 429") {
		t.Fatalf("err = %v", err)
	}
}

func TestRateHeadersPause(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Remaining", "0")
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	var paused time.Duration
	c := New("v", WithClock(time.Now, func(ctx context.Context, d time.Duration) error { paused += d; return nil }),
		WithRateHeaders(func(h http.Header, now time.Time) (time.Duration, bool) {
			return 3 * time.Second, h.Get("X-Remaining") == "0"
		}))
	if _, err := c.Do(context.Background(), Request{URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if paused != 3*time.Second {
		t.Fatalf("paused %v, want 3s", paused)
	}
}

// A body of announced length is read into one buffer of that size; bodies
// without a length, and bodies over the cap, behave as before.
func TestReadBodySizesBufferFromContentLength(t *testing.T) {
	body := strings.Repeat("x", 300_000)
	for _, tc := range []struct {
		name   string
		length int64
		max    int64
	}{
		{"announced", int64(len(body)), 1 << 20},
		{"unknown length", -1, 1 << 20},
		{"over the cap", int64(len(body)), 1000},
	} {
		resp := &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: tc.length}
		got, err := readBody(resp, tc.max)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := min(int64(len(body)), tc.max+1)
		if int64(len(got)) != want || string(got) != body[:want] {
			t.Fatalf("%s: read %d bytes, want %d", tc.name, len(got), want)
		}
		if tc.name == "announced" && cap(got) != len(body)+1 {
			t.Fatalf("buffer cap %d, want %d (one allocation of the announced size)", cap(got), len(body)+1)
		}
	}
}

// TestErrorRedactsSignedAndCutCredentials: credentials added while the
// request is prepared (EdgeGrid signing) and credentials the 200-byte
// quote would cut in two are removed from the error as well.
func TestErrorRedactsSignedAndCutCredentials(t *testing.T) {
	const clientToken, accessToken = "akab-client-0123456789", "akab-access-9876543210"
	const fastlyKey = "fk-abcdefghijklmnopqrstuvwxyz"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		// The key straddles the 200-byte quote: a prefix of it would be
		// left after cutting.
		fmt.Fprintf(w, "%s Fastly-Key=%s\n", strings.Repeat("x", 180), r.Header.Get("Fastly-Key"))
		fmt.Fprintf(w, "Authorization=%s\n", r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c := fastClient(WithPrepare(func(r *http.Request) error {
		r.Header.Set("Authorization", "EG1-HMAC-SHA256 client_token="+clientToken+";access_token="+accessToken+";timestamp=20260101T00:00:00+0000;nonce=n;signature=sig")
		return nil
	}))
	_, err := c.Do(context.Background(), Request{URL: srv.URL + "/x", Header: http.Header{"Fastly-Key": {fastlyKey}}})
	var he *Error
	if !errors.As(err, &he) || he.Status != 400 {
		t.Fatalf("want an HTTP 400 error, got %v", err)
	}
	for _, leak := range []string{clientToken, accessToken, fastlyKey[:6]} {
		if strings.Contains(err.Error(), leak) || strings.Contains(string(he.Raw), leak) {
			t.Errorf("error holds %q: %v\nraw: %s", leak, err, he.Raw)
		}
	}
}

// Request.Buffer: the body goes into the caller's buffer, asked for with
// the announced length + 1 once the headers are in (0 when none was
// announced), and grows when the body does not fit.
func TestReadBodyIntoCallerBuffer(t *testing.T) {
	body := strings.Repeat("y", 100_000)
	for _, tc := range []struct {
		name    string
		length  int64
		wantAsk int
		have    int // capacity of the buffer handed out
	}{
		{"announced, fits", int64(len(body)), len(body) + 1, 200_000},
		{"announced, too small", int64(len(body)), len(body) + 1, 10},
		{"unknown length", -1, 0, 50_000},
	} {
		own := make([]byte, 3, tc.have)
		asked := -1
		get := func(n int) []byte { asked = n; return own }
		resp := &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: tc.length}
		got, err := readBodyInto(resp, 1<<20, get)
		if err != nil || string(got) != body {
			t.Fatalf("%s: read %d bytes, err %v", tc.name, len(got), err)
		}
		if asked != tc.wantAsk {
			t.Fatalf("%s: asked for %d bytes, want %d", tc.name, asked, tc.wantAsk)
		}
		if reused := &got[0] == &own[:1][0]; reused != (tc.have > len(body)) {
			t.Fatalf("%s: caller's buffer reused %v with capacity %d", tc.name, reused, tc.have)
		}
	}
}
