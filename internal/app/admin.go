package app

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/admin"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// adminServer is the daemon's /healthz and /metrics listener ([admin]).
type adminServer struct {
	ln      net.Listener // nil when [admin] listen is ""
	tracker *admin.Tracker
	cancel  context.CancelFunc // stops the server; set by serve
	wg      sync.WaitGroup
}

// listenAdmin binds [admin] listen before anything starts: a configured
// listener that cannot bind is an error of the start, as the hook's is. A
// dry run serves no endpoints (as it serves no hook): trying a config
// with --dry-run beside the daemon must not collide with its port.
func (rt *program) listenAdmin() (*adminServer, error) {
	a := &adminServer{}
	if rt.cfg.Admin.Listen == "" || rt.dryRun {
		return a, nil
	}
	l, err := admin.Open(rt.cfg.Admin.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin.listen: cannot listen on %s: %w", rt.cfg.Admin.Listen, err)
	}
	a.ln = l
	return a, nil
}

// serve starts the endpoints over the built collectors until ctx ends;
// call it before any collector runs (their outcomes go to a.tracker).
func (a *adminServer) serve(ctx context.Context, rt *program, d *scheduler.Daemon, bs []*built) {
	if a.ln == nil {
		return
	}
	var cs []admin.Collector
	for _, b := range bs {
		c := admin.Collector{Name: b.cfg.Name}
		if _, ok := b.c.(collectors.Streamer); !ok {
			c.Spec = b.cfg.Options.Schedule()
			// The daemon's own parser; d.Add refuses what it refuses.
			s, err := scheduler.ParseSchedule(c.Spec)
			if err != nil {
				continue
			}
			c.Schedule = s
		}
		cs = append(cs, c)
	}
	a.tracker = admin.NewTracker(time.Now(), time.Now, cs)
	src := admin.Source{
		Tracker: a.tracker,
		Prefix:  rt.cfg.Graphite.Prefix,
		Sink: func() admin.Sink {
			st := rt.sink.Stats()
			return admin.Sink{Connected: st.Connected, SpoolBytes: st.SpoolBytes, SpoolMaxBytes: rt.cfg.Graphite.SpoolMaxBytes,
				SpoolError: st.SpoolError, CarbonError: st.CarbonError}
		},
		// The same points the daemon writes to carbon every
		// self_metrics_interval.
		SelfPoints: func(now time.Time) []schema.Point { return rt.selfPointsAll(now, d, bs) },
	}
	rt.logger.Info("admin endpoints serving", "listen", a.ln.Addr().String(), "paths", "/healthz /metrics")
	ctx, a.cancel = context.WithCancel(ctx)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := admin.Serve(ctx, a.ln, src, rt.logger); err != nil {
			rt.logger.Error("admin endpoints stopped", "listen", rt.cfg.Admin.Listen, "err", err)
		}
	}()
}

// record notes a run's outcome for /healthz.
func (a *adminServer) record(name string, err error) { a.tracker.Record(name, err) }

// emitter wraps a stream's emitter so that its batches count as successes.
func (a *adminServer) emitter(name string, e collectors.Emitter) collectors.Emitter {
	return a.tracker.Emitter(name, e)
}

// close stops the server (or closes the listener serve never took) and
// waits for it. The endpoints answer until the collectors have stopped
// and the sink is flushed, when the daemon calls it last.
func (a *adminServer) close() {
	if a.cancel != nil {
		a.cancel()
	} else if a.ln != nil {
		a.ln.Close()
	}
	a.wg.Wait()
}
