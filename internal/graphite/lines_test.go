package graphite

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	graphite "github.com/marpaia/graphite-golang"
)

// appendMetrics writes what the library's SendMetrics writes over TCP,
// byte for byte: the library is run against a loopback listener on the
// same metrics (zero metrics and odd values included) and its bytes are
// the expectation.
func TestAppendMetricsMatchesLibrary(t *testing.T) {
	ms := []graphite.Metric{
		{Name: "cdn.fastly.www.all.requests", Value: "7903", Timestamp: 1796360820},
		{},
		{Name: "cdn.fastly.www.AMS.hit_ratio", Value: "0.8721", Timestamp: 1796360880},
		{Name: "a.b", Value: "-1.5e-07", Timestamp: 1},
		{Name: "x;tag=v", Value: "NaN", Timestamp: 1796360940},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	port, _ := strconv.Atoi(ln.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):])
	g := &graphite.Graphite{Host: "127.0.0.1", Port: port, Protocol: "tcp", Timeout: 5 * time.Second, DisableLog: true}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	if err := g.SendMetrics(ms); err != nil {
		t.Fatal(err)
	}
	_ = g.Disconnect()
	want := <-got
	if mine := appendMetrics(nil, ms); string(mine) != string(want) {
		t.Fatalf("appendMetrics wrote\n%q\nthe library\n%q", mine, want)
	}
	if len(want) == 0 {
		t.Fatal("the library wrote nothing")
	}
}
