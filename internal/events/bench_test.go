package events

import (
	"context"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// BenchmarkEnqueue measures the durable write of one event to one queue
// (temp file, fsync, rename, directory fsync).
func BenchmarkEnqueue(b *testing.B) {
	f := newFakeWeb(b)
	p, err := New(config.Events{GraphiteWebURLs: []string{f.URL}}, b.TempDir(), func(string) string { return "" }, WithLogger(quietLogger(discard{})))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := p.Enqueue(Event{What: "deploy", Tags: []string{"deploy"}, When: time.Unix(int64(1e9+i), 0)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPostEvent measures queue + POST to a loopback fake + dequeue.
func BenchmarkPostEvent(b *testing.B) {
	f := newFakeWeb(b)
	p, err := New(config.Events{GraphiteWebURLs: []string{f.URL}}, b.TempDir(), func(string) string { return "" }, WithLogger(quietLogger(discard{})))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if err := p.PostEvent(context.Background(), Event{What: "deploy", When: time.Unix(int64(1e9+i), 0)}); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
