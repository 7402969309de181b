package app

import (
	"context"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// startExtras starts the daemon's side services (deploy hook, event
// poster); stopExtras stops them.
func (rt *program) startExtras(ctx context.Context) error { return nil }

func (rt *program) stopExtras() {}

// checkpointLoop records a streaming collector's progress: every minute,
// after a flush, the end of the newest emitted interval becomes its
// checkpoint, so a restart catches up only what it missed.
func (rt *program) checkpointLoop(ctx context.Context, b *built) {
	if rt.store == nil {
		return
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	st := rt.statsFor(b.cfg.Name)
	save := func(ctx context.Context) {
		end := st.maxEnd.Load()
		if end == 0 {
			return
		}
		if err := rt.sink.Flush(ctx); err != nil {
			return
		}
		if err := rt.store.Set(b.cfg.Name, state.Checkpoint{End: time.Unix(end, 0).UTC(), Updated: time.Now().UTC()}); err != nil {
			rt.logger.Error("checkpoint not saved", "collector", b.cfg.Name, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			save(fctx)
			cancel()
			return
		case <-t.C:
			save(ctx)
		}
	}
}

// selfPointsAll adds the daemon's skipped-run counts to the self-metrics.
func (rt *program) selfPointsAll(now time.Time, d *scheduler.Daemon, bs []*built) []schema.Point {
	pts := rt.selfPoints(now)
	for _, b := range bs {
		if c := d.Counters(b.cfg.Name); c != nil {
			pts = append(pts, schema.Point{Path: schema.Path(rt.cfg.Graphite.Prefix, "cdnmetrics", "collector", b.cfg.Name, "skipped_runs"), Value: float64(c.Skipped.Load()), Time: now.Unix()})
		}
	}
	pts = append(pts, rt.sinkSelfPoints(now)...)
	return pts
}
