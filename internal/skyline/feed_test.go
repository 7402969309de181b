package skyline

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ogórek "github.com/kisielk/og-rek"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// points returns n distinct points; every third one is a ratio.
func points(n int) []schema.Point {
	out := make([]schema.Point, n)
	for i := range out {
		kind := "requests"
		if i%3 == 0 {
			kind = "hit_ratio"
		}
		out[i] = schema.Point{Path: fmt.Sprintf("cdn.fastly.svc.pop%d.%s", i, kind), Value: float64(i) + 0.25, Time: 1700000000 + int64(i)*60}
	}
	return out
}

// decodePickleFrames reads length-prefixed pickles from r, as Horizon does,
// and sends each decoded point to out until r ends.
func decodePickleFrames(t *testing.T, r io.Reader, out chan<- schema.Point) {
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r, body); err != nil {
			t.Errorf("short frame: %v", err)
			return
		}
		v, err := ogórek.NewDecoder(strings.NewReader(string(body))).Decode()
		if err != nil {
			t.Errorf("decode pickle: %v", err)
			return
		}
		list, ok := v.([]any)
		if !ok {
			t.Errorf("pickle is %T, want a list", v)
			return
		}
		for _, item := range list {
			tup, ok := item.(ogórek.Tuple)
			if !ok || len(tup) != 2 {
				t.Errorf("item %#v is not a 2-tuple", item)
				return
			}
			dp, ok := tup[1].(ogórek.Tuple)
			if !ok || len(dp) != 2 {
				t.Errorf("datapoint %#v is not a 2-tuple", tup[1])
				return
			}
			path, _ := tup[0].(string)
			ts, _ := dp[0].(int64)
			val, _ := dp[1].(float64)
			out <- schema.Point{Path: path, Time: ts, Value: val}
		}
	}
}

// pickleServer accepts connections on ln and decodes every frame.
func pickleServer(t *testing.T, ln net.Listener) <-chan schema.Point {
	out := make(chan schema.Point, 10000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				decodePickleFrames(t, c, out)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return out
}

// collect reads n points from ch or fails after the deadline.
func collect(t *testing.T, ch <-chan schema.Point, n int, within time.Duration) []schema.Point {
	t.Helper()
	deadline := time.After(within)
	var got []schema.Point
	for len(got) < n {
		select {
		case p := <-ch:
			got = append(got, p)
		case <-deadline:
			t.Fatalf("received %d of %d points before the deadline", len(got), n)
		}
	}
	return got
}

// waitStats returns f's counters once ok holds, or after 5 s. The feed
// counts points after the write returns, which may be after the receiver
// has read them.
func waitStats(f *Feed, ok func(Stats) bool) Stats {
	deadline := time.Now().Add(5 * time.Second)
	s := f.Stats()
	for !ok(s) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		s = f.Stats()
	}
	return s
}

func startFeed(t *testing.T, o Options) *Feed {
	t.Helper()
	f, err := New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Start(context.Background())
	t.Cleanup(f.Stop)
	return f
}

func TestPickleDeliversExactly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := pickleServer(t, ln)
	o := DefaultOptions()
	o.PickleAddress = ln.Addr().String()
	f := startFeed(t, o)
	// 1234 points span several batches of DefaultBatch (500).
	want := points(1234)
	f.Send(want...)
	recv := collect(t, got, len(want), 10*time.Second)
	for i := range want {
		if recv[i] != want[i] {
			t.Fatalf("point %d: got %+v, want %+v", i, recv[i], want[i])
		}
	}
	if s := waitStats(f, func(s Stats) bool { return s.Sent == 1234 }); s.Sent != 1234 || s.Dropped != 0 {
		t.Errorf("stats %+v, want 1234 sent, none dropped", s)
	}
}

func TestPickleReconnects(t *testing.T) {
	backoffMin, backoffMax = 10*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { backoffMin, backoffMax = 500*time.Millisecond, 30*time.Second })
	// A closed port below the ephemeral range, so the first dials are
	// refused (an ephemeral one could be handed to the dialer itself).
	addr, err := graphitetest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.PickleAddress = addr
	f := startFeed(t, o)
	want := points(10)
	f.Send(want...)
	deadline := time.Now().Add(5 * time.Second)
	for f.Stats().Errors == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no failed dial reported")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	recv := collect(t, pickleServer(t, ln), len(want), 10*time.Second)
	for i := range want {
		if recv[i] != want[i] {
			t.Fatalf("point %d: got %+v, want %+v", i, recv[i], want[i])
		}
	}
}

func TestUDPDeliversExactlyAndBoundsDatagrams(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	o := DefaultOptions()
	o.UDPAddress = pc.LocalAddr().String()
	f := startFeed(t, o)
	want := points(50)
	huge := schema.Point{Path: strings.Repeat("x", MaxDatagram), Value: 1, Time: 1}
	f.Send(want[:25]...)
	f.Send(huge)
	f.Send(want[25:]...)

	buf := make([]byte, 4*MaxDatagram)
	var got []schema.Point
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < len(want) {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d points: %v", len(got), err)
		}
		if n > MaxDatagram {
			t.Fatalf("datagram of %d bytes exceeds %d", n, MaxDatagram)
		}
		var msg []any
		if err := msgpack.Unmarshal(buf[:n], &msg); err != nil {
			t.Fatalf("decode datagram: %v", err)
		}
		if len(msg) != 2 {
			t.Fatalf("datagram %#v is not [metric, [ts, value]]", msg)
		}
		dp, ok := msg[1].([]any)
		if !ok || len(dp) != 2 {
			t.Fatalf("datapoint %#v is not [ts, value]", msg[1])
		}
		path, _ := msg[0].(string)
		ts, _ := dp[0].(int64)
		if u, ok := dp[0].(uint64); ok {
			ts = int64(u)
		}
		val, _ := dp[1].(float64)
		got = append(got, schema.Point{Path: path, Time: ts, Value: val})
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("point %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := waitStats(f, func(s Stats) bool { return s.Oversize == 1 && s.Sent == 50 }); s.Oversize != 1 || s.Sent != 50 {
		t.Errorf("stats %+v, want 1 oversize and 50 sent", s)
	}
}

func TestDatagramSizeBound(t *testing.T) {
	// msgpack of [path, [ts, value]]: 1 (array) + path header + path + 1
	// (array) + 9 (int64 or smaller) + 9 (float64). With a 1000-byte path the
	// header is 3 bytes (str16), so the whole is at most 1+3+1000+1+9+9 = 1023.
	p := schema.Point{Path: strings.Repeat("a", 1000), Value: 0.5, Time: 1 << 40}
	b, err := EncodeDatagram(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxDatagram || len(b) < 1000 {
		t.Fatalf("1000-byte path encodes to %d bytes", len(b))
	}
}

func TestFilterAndDrop(t *testing.T) {
	o := DefaultOptions()
	o.UDPAddress = "127.0.0.1:9"
	o.Filter = `hit_ratio$`
	o.Queue = 2
	f, err := New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Not started: nothing drains the queue. points(9) holds 3 ratios
	// (i = 0, 3, 6): 2 fit the queue, 1 is dropped, 6 are filtered out.
	f.Send(points(9)...)
	s := f.Stats()
	if s.Filtered != 6 || s.Queued != 2 || s.Dropped != 1 {
		t.Fatalf("stats %+v, want filtered 6, queued 2, dropped 1", s)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*Options)
		wantErr bool
	}{
		{"defaults", func(*Options) {}, false},
		{"both transports", func(o *Options) { o.PickleAddress, o.UDPAddress = "sky:2024", "sky:2025" }, false},
		{"no port", func(o *Options) { o.PickleAddress = "sky" }, true},
		{"bad filter", func(o *Options) { o.Filter = "(" }, true},
		{"zero queue", func(o *Options) { o.Queue = 0 }, true},
	}
	for _, c := range cases {
		o := DefaultOptions()
		c.mutate(&o)
		if err := o.Validate(); (err != nil) != c.wantErr {
			t.Errorf("%s: Validate() = %v, want error %v", c.name, err, c.wantErr)
		}
	}
}
