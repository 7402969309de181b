package fastly

import (
	"net/http"
	"testing"
	"time"
)

// The real-time client caps HTTP/2 receive buffers on its own copy of the
// transport; the shared client is left alone, and a client that is not
// built on *http.Transport (a test's) is used as it is.
func TestRTHTTPClientCapsReceiveBuffers(t *testing.T) {
	shared := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 7}, Timeout: 3 * time.Second}
	c := rtHTTPClient(shared)
	tr, ok := c.Transport.(*http.Transport)
	if !ok || tr == shared.Transport {
		t.Fatalf("want a copy of the shared transport, got %T (same: %v)", c.Transport, tr == shared.Transport)
	}
	if tr.HTTP2 == nil || tr.HTTP2.MaxReceiveBufferPerStream != 1<<20 || tr.HTTP2.MaxReceiveBufferPerConnection != 8<<20 {
		t.Fatalf("receive buffers not capped: %+v", tr.HTTP2)
	}
	if tr.MaxIdleConnsPerHost != 7 || c.Timeout != 3*time.Second {
		t.Fatalf("settings of the shared client lost: idle %d timeout %v", tr.MaxIdleConnsPerHost, c.Timeout)
	}
	if shared.Transport.(*http.Transport).HTTP2 != nil {
		t.Fatal("the shared transport was changed")
	}
	if c := rtHTTPClient(nil); c.Transport.(*http.Transport).HTTP2 == nil {
		t.Fatal("default client not capped")
	}
	custom := &http.Client{Transport: rtClientTestTripper(func(*http.Request) (*http.Response, error) { return nil, nil })}
	if rtHTTPClient(custom) != custom {
		t.Fatal("a custom round tripper must be used as it is")
	}
}

type rtClientTestTripper func(*http.Request) (*http.Response, error)

func (f rtClientTestTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
