package pipeline

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

	"github.com/cdnmetrics/cdnmetrics/internal/anomaly"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/skyline"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// feeds are what the points feed besides Graphite: the built-in anomaly
// detector (its scores go to Graphite too) and a Skyline horizon.
type feeds struct {
	anom      *anomaly.Set
	filter    *regexp.Regexp
	skyline   *skyline.Feed
	statePath string         // where the detectors' state is kept; "" keeps none (dry runs)
	posts     sync.WaitGroup // anomaly events being posted
}

// FeedOptions configure the feeds besides Graphite.
type FeedOptions struct {
	Anomaly config.Anomaly
	Skyline skyline.Options
	// StateDir holds anomaly.state, so that `collect` from cron learns
	// across runs like the daemon does.
	StateDir string
	// DryRun starts no Skyline feed and writes no anomaly state.
	DryRun bool
}

// StartFeeds builds the anomaly detector and the Skyline feed when
// configured; they live until ctx ends and are stopped by Close.
func (p *Pipeline) StartFeeds(ctx context.Context, o FeedOptions) error {
	if o.Skyline.Enabled() && !o.DryRun {
		f, err := skyline.New(o.Skyline, p.logger)
		if err != nil {
			return err
		}
		f.Start(ctx)
		p.feeds.skyline = f
	}
	if o.Anomaly.Enabled {
		re, err := regexp.Compile(o.Anomaly.Filter)
		if err != nil {
			return fmt.Errorf("anomaly.filter: %w", err)
		}
		p.feeds.filter = re
		p.feeds.anom = anomaly.NewSet(anomaly.DefaultParams(), anomaly.SetOptions{
			Threshold:  o.Anomaly.Threshold,
			Repeat:     int64(o.Anomaly.Repeat.D() / time.Second),
			Confirm:    confirmPoints(o.Anomaly.Confirm),
			OnCrossing: p.onAnomaly,
		})
		path := filepath.Join(o.StateDir, "anomaly.state")
		p.loadAnomalyState(path)
		if !o.DryRun {
			p.feeds.statePath = path
		}
	}
	return nil
}

// loadAnomalyState restores the detectors; a missing, unreadable or
// outdated file only means the series start learning anew.
func (p *Pipeline) loadAnomalyState(path string) {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			p.logger.Warn("anomaly state not loaded; series start anew", "path", path, "err", err)
		}
		return
	}
	defer f.Close()
	if err := p.feeds.anom.Load(f); err != nil {
		p.logger.Warn("anomaly state not loaded; series start anew", "path", path, "err", err)
		return
	}
	p.logger.Debug("anomaly state loaded", "series", p.feeds.anom.Len())
}

// saveAnomalyState writes the detectors' state atomically (not in dry runs,
// which change no state).
func (p *Pipeline) saveAnomalyState() {
	path := p.feeds.statePath
	if p.feeds.anom == nil || path == "" {
		return
	}
	var buf bytes.Buffer
	if err := p.feeds.anom.Save(&buf); err == nil {
		err = state.WriteFileAtomic(path, buf.Bytes(), 0o640)
		if err == nil {
			return
		}
		p.logger.Warn("anomaly state not saved", "path", path, "err", err)
	} else {
		p.logger.Warn("anomaly state not saved", "err", err)
	}
}

// Close stops the feeds: it waits for the anomaly events still being
// handed to the event poster (the caller drains that poster afterwards),
// stops the Skyline feed and saves the detectors' state. The sink is the
// caller's to close, after this.
func (p *Pipeline) Close() {
	done := make(chan struct{})
	go func() { p.feeds.posts.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.logger.Warn("anomaly events still being posted after 30s")
	}
	if p.feeds.skyline != nil {
		p.feeds.skyline.Stop()
	}
	p.saveAnomalyState()
}

// scores returns the anomaly score points of pts: for every fresh point
// whose path matches the filter, <prefix>.anomaly.<provider>.<service>.<location>.<metric>.
func (p *Pipeline) scores(pts []schema.Point) []schema.Point {
	if p.feeds.anom == nil {
		return nil
	}
	prefix := p.prefix + "."
	var out []schema.Point
	for _, pt := range pts {
		if !p.feeds.filter.MatchString(pt.Path) || !strings.HasPrefix(pt.Path, prefix) || strings.HasPrefix(pt.Path, prefix+"anomaly.") {
			continue
		}
		score, fresh := p.feeds.anom.Observe(pt.Path, pt.Time, pt.Value)
		if !fresh {
			continue
		}
		out = append(out, schema.Point{Path: prefix + "anomaly." + strings.TrimPrefix(pt.Path, prefix), Value: score, Time: pt.Time})
	}
	return out
}

// onAnomaly posts an `anomaly` event, so anomalies show like deploy lines.
// It must not block the point path: the post runs on its own.
func (p *Pipeline) onAnomaly(c anomaly.Crossing) {
	p.logger.Warn("anomaly", "path", c.Path, "time", time.Unix(c.Time, 0).UTC().Format(time.RFC3339), "value", c.Value, "score", c.Score)
	if p.events == nil {
		return
	}
	parts := strings.Split(strings.TrimPrefix(c.Path, p.prefix+"."), ".")
	tags := append([]string{"anomaly"}, parts...)
	ev := schema.Event{What: "anomaly", Tags: tags, When: time.Unix(c.Time, 0),
		Data: fmt.Sprintf("%s = %g (anomaly score %.2f)", c.Path, c.Value, c.Score)}
	p.feeds.posts.Add(1)
	go func() {
		defer p.feeds.posts.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.events.PostEvent(ctx, ev); err != nil {
			p.logger.Error("anomaly event not posted", "path", c.Path, "err", err)
		}
	}()
}

// feed hands points to the Skyline feed (never blocks).
func (p *Pipeline) feed(pts []schema.Point) {
	if p.feeds.skyline != nil {
		p.feeds.skyline.Send(pts...)
	}
}

// confirmPoints maps [anomaly] confirm (0: post at once) to
// anomaly.SetOptions.Confirm (0 there means the default, negative at once).
func confirmPoints(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
