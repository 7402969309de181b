package app

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
)

func newWriterSink(w io.Writer, cfg *config.Config) graphite.Sink {
	return graphite.NewWriterSink(w, graphite.WithTags(cfg.Graphite.Prefix, cfg.Graphite.Tags))
}

// newTCPSink is the carbon sink with its spool under state_dir/spool.
func newTCPSink(cfg *config.Config, logger *slog.Logger) (graphite.Sink, error) {
	opts := []graphite.Option{
		graphite.WithLogger(logger),
		graphite.WithQueueSize(cfg.Graphite.QueueSize),
		graphite.WithWriteTimeout(cfg.Graphite.WriteTimeout.D()),
		graphite.WithTags(cfg.Graphite.Prefix, cfg.Graphite.Tags),
	}
	if cfg.Graphite.SpoolMaxBytes > 0 {
		opts = append(opts, graphite.WithSpool(filepath.Join(cfg.StateDir, "spool"), cfg.Graphite.SpoolMaxBytes))
	}
	return graphite.New(cfg.Graphite.Address, opts...)
}

// delivery is what a run's summary says about the sink.
type delivery struct {
	text    string // "sink: …" part of the summary; "" on dry runs
	warn    string // a WARN line when points were only spooled
	dropped uint64 // points lost (spool full or unreadable, or lost at close)
}

// deliverySummary says what became of the points this process gave the
// sink (collected plus selfPts self-metrics): delivered to carbon, spooled
// (durable, not delivered), dropped; and of the points an earlier run left
// in the spool. Call it after the sink is closed.
func (rt *program) deliverySummary(collected int64, selfPts int) delivery {
	if rt.dryRun {
		return delivery{}
	}
	st := rt.sink.Stats()
	delivered, spooled, dropped, inMemory := st.Own()
	dropped += inMemory // after Close nothing stays in memory; if it did, it is gone with the process
	var b strings.Builder
	fmt.Fprintf(&b, "sink: %d points (%d collected, %d self-metrics): %d delivered, %d spooled", collected+int64(selfPts), collected, selfPts, delivered, spooled)
	if spooled > 0 {
		b.WriteString(", not delivered")
		if st.CarbonError != "" {
			fmt.Fprintf(&b, " (carbon %s)", st.CarbonError)
		}
	}
	fmt.Fprintf(&b, ", %d dropped", dropped)
	var why []string
	if n := st.SpoolDroppedPoints - min(st.CarriedDropped, st.SpoolDroppedPoints); n > 0 {
		why = append(why, fmt.Sprintf("%d: spool full or unreadable", n))
	}
	if n := st.SpoolCorruptPoints - min(st.CarriedCorrupt, st.SpoolCorruptPoints); n > 0 {
		why = append(why, fmt.Sprintf("%d: damaged in the spool", n))
	}
	if st.LostPoints > 0 {
		why = append(why, fmt.Sprintf("%d: neither delivered nor spooled at close", st.LostPoints))
	}
	if len(why) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(why, ", "))
	}
	if st.DroppedInvalid > 0 {
		fmt.Fprintf(&b, ", %d invalid", st.DroppedInvalid)
	}
	if st.CarriedPoints > 0 {
		left := st.CarriedPoints - int64(st.CarriedReplayed) - int64(st.CarriedDropped) - int64(st.CarriedCorrupt)
		fmt.Fprintf(&b, "; earlier runs' spool: %d points, %d delivered, %d dropped", st.CarriedPoints, st.CarriedReplayed, st.CarriedDropped+st.CarriedCorrupt)
		if st.CarriedCorrupt > 0 {
			fmt.Fprintf(&b, " (%d in damaged records)", st.CarriedCorrupt)
		}
		fmt.Fprintf(&b, ", %d still spooled", max(left, 0))
	}
	// Earlier runs' losses found now make this run fail too: it is the
	// first to know, and nobody else will say so.
	d := delivery{text: oneLineText(b.String()), dropped: dropped + st.CarriedDropped + st.CarriedCorrupt}
	if spooled > 0 {
		d.warn = fmt.Sprintf("collect: WARN %d points spooled under %s, not delivered: carbon did not take them; the next run with carbon up delivers them",
			spooled, filepath.Join(rt.cfg.StateDir, "spool"))
	}
	return d
}

func oneLineText(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
