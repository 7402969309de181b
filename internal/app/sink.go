package app

import (
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func newWriterSink(w io.Writer) Sink { return graphite.NewWriterSink(w) }

// newTCPSink is the carbon sink with its spool under state_dir/spool.
func newTCPSink(cfg *config.Config, logger *slog.Logger) (Sink, error) {
	opts := []graphite.Option{
		graphite.WithLogger(logger),
		graphite.WithQueueSize(cfg.Graphite.QueueSize),
		graphite.WithWriteTimeout(cfg.Graphite.WriteTimeout.D()),
	}
	if cfg.Graphite.SpoolMaxBytes > 0 {
		opts = append(opts, graphite.WithSpool(filepath.Join(cfg.StateDir, "spool"), cfg.Graphite.SpoolMaxBytes))
	}
	return graphite.New(cfg.Graphite.Address, opts...)
}

// sinkSelfPoints are the sink's own counters under <prefix>.cdnmetrics.sink.
func (rt *program) sinkSelfPoints(now time.Time) []schema.Point {
	if s, ok := rt.sink.(interface {
		SelfPoints(prefix string, now time.Time) []schema.Point
	}); ok {
		return s.SelfPoints(rt.cfg.Graphite.Prefix, now)
	}
	return nil
}
