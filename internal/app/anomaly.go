package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/anomaly"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/skyline"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// feeds are what the points feed besides Graphite: the built-in anomaly
// detector (its scores go to Graphite too) and a Skyline horizon.
type feeds struct {
	anom    *anomaly.Set
	filter  *regexp.Regexp
	skyline *skyline.Feed
	ctx     context.Context
	posts   sync.WaitGroup // anomaly events being posted
}

// startFeeds builds the anomaly detector and the Skyline feed when
// configured; they live until ctx ends.
func (rt *program) startFeeds(ctx context.Context) error {
	rt.feeds.ctx = ctx
	if rt.cfg.Skyline.Enabled() && !rt.dryRun {
		f, err := skyline.New(skyline.Options(rt.cfg.Skyline), rt.logger)
		if err != nil {
			return err
		}
		f.Start(ctx)
		rt.feeds.skyline = f
	}
	if rt.cfg.Anomaly.Enabled {
		re, err := regexp.Compile(rt.cfg.Anomaly.Filter)
		if err != nil {
			return fmt.Errorf("anomaly.filter: %w", err)
		}
		rt.feeds.filter = re
		rt.feeds.anom = anomaly.NewSet(anomaly.DefaultParams(), anomaly.SetOptions{
			Threshold:  rt.cfg.Anomaly.Threshold,
			Repeat:     int64(rt.cfg.Anomaly.Repeat.D() / time.Second),
			OnCrossing: rt.onAnomaly,
		})
		rt.loadAnomalyState()
	}
	return nil
}

// anomalyStatePath is where the detectors' state is kept between runs, so
// that `collect` from cron learns across runs like the daemon does.
func (rt *program) anomalyStatePath() string {
	return filepath.Join(rt.cfg.StateDir, "anomaly.state")
}

// loadAnomalyState restores the detectors; a missing, unreadable or
// outdated file only means the series start learning anew.
func (rt *program) loadAnomalyState() {
	f, err := os.Open(rt.anomalyStatePath())
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			rt.logger.Warn("anomaly state not loaded; series start anew", "path", rt.anomalyStatePath(), "err", err)
		}
		return
	}
	defer f.Close()
	if err := rt.feeds.anom.Load(f); err != nil {
		rt.logger.Warn("anomaly state not loaded; series start anew", "path", rt.anomalyStatePath(), "err", err)
		return
	}
	rt.logger.Debug("anomaly state loaded", "series", rt.feeds.anom.Len())
}

// saveAnomalyState writes the detectors' state atomically (not in dry runs,
// which change no state).
func (rt *program) saveAnomalyState() {
	if rt.feeds.anom == nil || rt.dryRun {
		return
	}
	var buf bytes.Buffer
	if err := rt.feeds.anom.Save(&buf); err == nil {
		err = state.WriteFileAtomic(rt.anomalyStatePath(), buf.Bytes(), 0o640)
		if err == nil {
			return
		}
		rt.logger.Warn("anomaly state not saved", "path", rt.anomalyStatePath(), "err", err)
	} else {
		rt.logger.Warn("anomaly state not saved", "err", err)
	}
}

func (rt *program) stopFeeds() {
	// Anomaly events still being handed over must reach the sink and the
	// event queue before the sink closes.
	done := make(chan struct{})
	go func() { rt.feeds.posts.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		rt.logger.Warn("anomaly events still being posted after 30s")
	}
	if p := rt.ext.poster; p != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if res := p.Drain(ctx); !res.Delivered() {
			rt.logger.Warn("events kept queued for the next run", "result", strings.TrimSpace(res.String()))
		}
		cancel()
	}
	if rt.feeds.skyline != nil {
		rt.feeds.skyline.Stop()
	}
	rt.saveAnomalyState()
}

// scores returns the anomaly score points of pts: for every fresh point
// whose path matches the filter, <prefix>.anomaly.<provider>.<service>.<location>.<metric>.
func (rt *program) scores(pts []schema.Point) []schema.Point {
	if rt.feeds.anom == nil {
		return nil
	}
	prefix := rt.cfg.Graphite.Prefix + "."
	var out []schema.Point
	for _, p := range pts {
		if !rt.feeds.filter.MatchString(p.Path) || !strings.HasPrefix(p.Path, prefix) || strings.HasPrefix(p.Path, prefix+"anomaly.") {
			continue
		}
		score, fresh := rt.feeds.anom.Observe(p.Path, p.Time, p.Value)
		if !fresh {
			continue
		}
		out = append(out, schema.Point{Path: prefix + "anomaly." + strings.TrimPrefix(p.Path, prefix), Value: score, Time: p.Time})
	}
	return out
}

// onAnomaly posts an `anomaly` event, so anomalies show like deploy lines.
// It must not block the point path: the post runs on its own.
func (rt *program) onAnomaly(c anomaly.Crossing) {
	rt.logger.Warn("anomaly", "path", c.Path, "time", time.Unix(c.Time, 0).UTC().Format(time.RFC3339), "value", c.Value, "score", c.Score)
	if rt.events == nil {
		return
	}
	parts := strings.Split(strings.TrimPrefix(c.Path, rt.cfg.Graphite.Prefix+"."), ".")
	tags := append([]string{"anomaly"}, parts...)
	ev := collectors.Event{What: "anomaly", Tags: tags, When: time.Unix(c.Time, 0),
		Data: fmt.Sprintf("%s = %g (anomaly score %.2f)", c.Path, c.Value, c.Score)}
	rt.feeds.posts.Add(1)
	go func() {
		defer rt.feeds.posts.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.events.PostEvent(ctx, ev); err != nil {
			rt.logger.Error("anomaly event not posted", "path", c.Path, "err", err)
		}
	}()
}

// feed hands points to the Skyline feed (never blocks).
func (rt *program) feed(pts []schema.Point) {
	if rt.feeds.skyline != nil {
		rt.feeds.skyline.Send(pts...)
	}
}
