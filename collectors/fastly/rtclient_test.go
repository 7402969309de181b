package fastly

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// The real-time client has its own copy of the transport with the stream
// window set; the shared client is left alone, and a client that is not
// built on *http.Transport (a test's) is used as it is.
func TestRTHTTPClientOwnTransport(t *testing.T) {
	shared := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 7}, Timeout: 3 * time.Second}
	c, tr := rtHTTPClient(shared)
	if tr == nil || c.Transport != tr || tr == shared.Transport {
		t.Fatalf("want a copy of the shared transport, got %T", c.Transport)
	}
	if tr.HTTP2 == nil || tr.HTTP2.MaxReceiveBufferPerStream != 1<<20 || tr.HTTP2.MaxReceiveBufferPerConnection != 0 {
		t.Fatalf("stream window not set (or connection window changed): %+v", tr.HTTP2)
	}
	if tr.MaxIdleConnsPerHost != 7 || c.Timeout != 3*time.Second {
		t.Fatalf("settings of the shared client lost: idle %d timeout %v", tr.MaxIdleConnsPerHost, c.Timeout)
	}
	if shared.Transport.(*http.Transport).HTTP2 != nil {
		t.Fatal("the shared transport was changed")
	}
	if _, tr := rtHTTPClient(nil); tr == nil || tr.HTTP2 == nil {
		t.Fatal("default client without its own transport")
	}
	custom := &http.Client{Transport: rtClientTestTripper(func(*http.Request) (*http.Response, error) { return nil, nil })}
	if c, tr := rtHTTPClient(custom); c != custom || tr != nil {
		t.Fatal("a custom round tripper must be used as it is")
	}
}

// The stream window shares 32 MiB among the services, between 32 KiB and
// 1 MiB, and is set once.
func TestRTStreamWindowByServices(t *testing.T) {
	for _, tc := range []struct{ services, want int }{
		{0, 1 << 20}, {1, 1 << 20}, {32, 1 << 20}, {64, 524288}, {100, 335544}, {500, 67108}, {1000, 33554}, {5000, 32 << 10},
	} {
		if got := rtStreamWindow(tc.services); got != tc.want {
			t.Errorf("%d services: window %d, want %d", tc.services, got, tc.want)
		}
	}
	_, tr := rtHTTPClient(nil)
	c := &Collector{rtTransport: tr}
	c.sizeRTWindow(1000)
	c.sizeRTWindow(10) // later calls change nothing: connections may exist
	if got := tr.HTTP2.MaxReceiveBufferPerStream; got != 33554 {
		t.Fatalf("window %d after sizing for 1000 services, want 33554", got)
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
