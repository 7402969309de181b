package fastly

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
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
	if tr.HTTP2 == nil || tr.HTTP2.MaxReceiveBufferPerStream != 64<<10 || tr.HTTP2.MaxReceiveBufferPerConnection != 64<<20 {
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

// Every answer's reader slot is given back, error answers' too: more
// refused answers than there are slots do not stall the subscriber, and
// none is held once it has stopped.
func TestRTReaderSlotsGivenBack(t *testing.T) {
	f := newFake(t)
	var n atomic.Int64
	errors := int64(cap(rtReaders) + 3)
	f.mux.HandleFunc("/v1/channel/", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= errors {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"msg":"bad request"}`)
			return
		}
		<-r.Context().Done() // a long poll that never answers
	})
	var logs syncBuffer
	c := f.collector(t, testToken, &logs, nil, Service{ID: "svc1", Name: "www"})
	c.sleep = func(context.Context, time.Duration) {}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.subscribe(ctx, service{id: "svc1", name: "www"}, &recorder{})
	}()
	waitFor(t, 10*time.Second, "all error answers read", func() bool { return n.Load() > errors })
	cancel()
	<-done
	if held := len(rtReaders); held != 0 {
		t.Fatalf("%d reader slots still held", held)
	}
}
