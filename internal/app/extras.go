package app

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/events"
	"github.com/cdnmetrics/cdnmetrics/internal/hook"
	"github.com/cdnmetrics/cdnmetrics/internal/listen"
	"github.com/cdnmetrics/cdnmetrics/internal/rum"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// extras are the daemon's side services.
type extras struct {
	wg     sync.WaitGroup
	poster *events.Poster
	hook   *hook.Handler // nil when the hook is off
	rum    *rum.Handler  // nil when [rum] listen is empty
}

// setupEvents builds the event poster (durable queue under
// state_dir/events) and makes it the collectors' EventPoster: vendor
// configuration changes become events and event metrics.
func (rt *program) setupEvents() error {
	if rt.dryRun || len(rt.cfg.Events.GraphiteWebURLs) == 0 {
		return nil
	}
	p, err := events.New(rt.cfg.Events, filepath.Join(rt.cfg.StateDir, "events"), rt.stdio.Getenv, events.WithLogger(rt.logger))
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	rt.ext.poster = p
	rt.events = p.Recorder(rt.cfg.Graphite.Prefix, rt.pipe.Direct())
	rt.pipe.SetEvents(rt.events)
	return nil
}

// startExtras starts the event delivery loop and the deploy hook. The
// hook's address is bound first: a configured listener that cannot bind
// is an error of the start, never a daemon quietly running without it.
func (rt *program) startExtras(ctx context.Context) error {
	var hookLn net.Listener
	if rt.cfg.Hook.Listen != "" && !rt.dryRun {
		l, err := net.Listen("tcp", rt.cfg.Hook.Listen)
		if err != nil {
			return fmt.Errorf("hook.listen: cannot listen on %s: %w", rt.cfg.Hook.Listen, err)
		}
		hookLn = l
	}
	var rumLn net.Listener
	if rt.cfg.RUM.Listen != "" && !rt.dryRun {
		l, err := listen.Open(rt.cfg.RUM.Listen, rt.cfg.RUM.MaxConnections)
		if err != nil {
			if hookLn != nil {
				hookLn.Close()
			}
			return fmt.Errorf("rum.listen: cannot listen on %s: %w", rt.cfg.RUM.Listen, err)
		}
		rumLn = l
	}
	if err := rt.setupEvents(); err != nil {
		if hookLn != nil {
			hookLn.Close()
		}
		if rumLn != nil {
			rumLn.Close()
		}
		return err
	}
	if rumLn != nil {
		rt.startRUM(ctx, rumLn)
	}
	if p := rt.ext.poster; p != nil {
		rt.ext.wg.Add(1)
		go func() {
			defer rt.ext.wg.Done()
			_ = p.Run(ctx)
		}()
	}
	if hookLn == nil {
		return nil
	}
	post := func(ctx context.Context, ev schema.Event) error {
		// Without [events] the deploy still becomes a metric.
		return rt.pipe.Direct().Emit(ctx, collectors.Batch{Points: events.MetricPoints(rt.cfg.Graphite.Prefix, ev)})
	}
	if rt.events != nil {
		post = rt.events.PostEvent
	}
	h, err := hook.New(rt.cfg.Hook, rt.stdio.Getenv, filepath.Join(rt.cfg.StateDir, "hook"), post, hook.WithLogger(rt.logger),
		hook.WithClockSkewTolerance(rt.cfg.ClockSkewTolerance.D()))
	if err != nil {
		hookLn.Close()
		return fmt.Errorf("hook: %w", err)
	}
	rt.ext.hook = h
	rt.ext.wg.Add(1)
	go func() {
		defer rt.ext.wg.Done()
		if err := hook.ServeListener(ctx, hookLn, h, rt.logger); err != nil {
			rt.logger.Error("deploy hook stopped", "listen", rt.cfg.Hook.Listen, "err", err)
		}
	}()
	return nil
}

// startRUM serves the real-user timing endpoint on l; its points go
// through the pipeline like a collector's ("rum"), so they are checked,
// spooled and counted like every other.
func (rt *program) startRUM(ctx context.Context, l net.Listener) {
	h := rum.New(rt.cfg.RUM, rum.WithLogger(rt.logger), rum.WithStateDir(filepath.Join(rt.cfg.StateDir, "rum")))
	rt.ext.rum = h
	e := rt.pipe.Emitter("rum")
	rt.ext.wg.Add(1)
	go func() {
		defer rt.ext.wg.Done()
		if err := h.Serve(ctx, l, e); err != nil {
			rt.logger.Error("rum endpoint stopped", "listen", rt.cfg.RUM.Listen, "err", err)
		}
	}()
}

// stopExtras waits for the side services (they stop with the run's ctx).
func (rt *program) stopExtras() {
	done := make(chan struct{})
	go func() { rt.ext.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		rt.logger.Warn("side services did not stop within 15s")
	}
}

// selfPointsAll adds the daemon's skipped-run counts to the self-metrics.
func (rt *program) selfPointsAll(now time.Time, d *scheduler.Daemon, bs []*built) []schema.Point {
	pts := rt.pipe.SelfPoints(now)
	for _, b := range bs {
		if c := d.Counters(b.cfg.Name); c != nil {
			pts = append(pts, schema.Point{Path: schema.Path(rt.cfg.Graphite.Prefix, schema.NamespaceSelf, "collector", b.cfg.Name, "skipped_runs"), Value: float64(c.Skipped.Load()), Time: now.Unix()})
		}
	}
	if h := rt.ext.hook; h != nil {
		pts = append(pts, schema.Point{Path: schema.Path(rt.cfg.Graphite.Prefix, schema.NamespaceSelf, "hook", "rejected_future"), Value: float64(h.RejectedFuture()), Time: now.Unix()})
		pts = append(pts, h.RejectedPoints(rt.cfg.Graphite.Prefix, now)...)
	}
	if h := rt.ext.rum; h != nil {
		pts = append(pts, h.SelfPoints(rt.cfg.Graphite.Prefix, now)...)
	}
	return pts
}
