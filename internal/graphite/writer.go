package graphite

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// WriterSink writes the exact plaintext lines TCPSink would send to an
// io.Writer (dry-run: os.Stdout). Invalid points are dropped and counted
// the same way.
type WriterSink struct {
	mu     sync.Mutex
	w      *bufio.Writer
	buf    []byte
	stats  Stats
	closed bool
	tags   tagForms
}

// NewWriterSink returns a sink that prints lines to w. Of the options it
// uses WithTags only (dry-run prints the lines carbon would get); an
// unusable tag mode prints the dotted paths.
func NewWriterSink(w io.Writer, opts ...Option) *WriterSink {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.tags.check() != nil {
		o.tags = tagForms{}
	}
	return &WriterSink{w: bufio.NewWriter(w), tags: o.tags}
}

// Send implements Sink.
func (s *WriterSink) Send(ctx context.Context, pts []schema.Point) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for i := range pts {
		if checkPoint(&pts[i]) != nil {
			s.stats.DroppedInvalid++
			continue
		}
		var werr error
		err := s.tags.lines(&pts[i], func(p *schema.Point) {
			if werr != nil {
				return
			}
			s.buf = AppendLine(s.buf[:0], *p)
			if _, werr = s.w.Write(s.buf); werr == nil {
				s.stats.SentPoints++
			}
		})
		if werr != nil {
			s.stats.SendErrors++
			return fmt.Errorf("graphite: write: %w", werr)
		}
		if err != nil {
			s.stats.DroppedInvalid++
		}
	}
	return nil
}

// Flush implements Sink.
func (s *WriterSink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		s.stats.SendErrors++
		return fmt.Errorf("graphite: write: %w", err)
	}
	return nil
}

// Close implements Sink; it does not close the underlying writer.
func (s *WriterSink) Close(ctx context.Context) error {
	err := s.Flush(ctx)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return err
}

// Stats implements Sink.
func (s *WriterSink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

var (
	_ Sink = (*WriterSink)(nil)
)
