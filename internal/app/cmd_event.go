package app

import (
	"context"
	"fmt"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"path/filepath"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/events"
	"github.com/cdnmetrics/cdnmetrics/internal/timespec"
)

func init() {
	register(Command{Name: "event", Summary: "post a deploy (or other) event to graphite-web and as a metric", Run: runEvent})
}

func runEvent(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "event", `
Posts an event to every graphite-web in [events] graphite_web_urls (POST
/events/) and writes <prefix>.events.<what>.<tag> = 1 at its time, so both
drawAsInfinite(events('deploy')) and drawAsInfinite(<prefix>.events.deploy.<tag>)
draw its line. An event graphite-web cannot take now (unreachable, 5xx)
is kept queued under state_dir/events and posted by the daemon (or the
next event); one it rejects as invalid (400, 413, 422) is moved to the
queue's rejected/ directory and never retried. The output says which of
the two happened; the exit status is 3 when it was kept queued (or the
metric could not reach carbon), 1 when it was rejected.`)
	path := fs.String("config", "./config.toml", "config file")
	what := fs.String("what", "deploy", "what happened")
	tags := fs.String("tags", "deploy", "space-separated tags")
	data := fs.String("data", "", "free text, e.g. the version deployed")
	when := fs.String("when", "", "event time (RFC 3339 or Unix seconds; default now)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadCommandConfig(fs, stdio, *path, config.ReadBackSections...)
	if !ok {
		return exitUsage
	}
	ev := events.Event{What: *what, Tags: strings.Fields(*tags), Data: *data, When: time.Now()}
	if *when != "" {
		t, err := timespec.Parse(*when, time.Now())
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "event: --when: %v\n", err)
			return 2
		}
		// No clock is trusted beyond ours, the user's included: an
		// event ahead of it is a typo or a wrong zone, refused like the
		// hook refuses it.
		if tol := cfg.ClockSkewTolerance.D(); t.After(time.Now().Add(tol)) {
			fmt.Fprintf(stdio.Stderr, "event: --when %s is more than %s ahead of our clock (clock_skew_tolerance)\n", t.UTC().Format(time.RFC3339), tol)
			return 2
		}
		ev.When = t
	}
	rt, err := newRuntime(cfg, stdio, false)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "event: %v\n", err)
		return 1
	}
	code := 0
	if err := rt.pipe.Direct().Emit(ctx, collectors.Batch{Points: events.MetricPoints(cfg.Graphite.Prefix, ev)}); err != nil {
		fmt.Fprintf(stdio.Stderr, "event: metric not sent: %v\n", err)
		code = exitBackend
	}
	if len(cfg.Events.GraphiteWebURLs) == 0 {
		fmt.Fprintln(stdio.Stderr, "event: no [events] graphite_web_urls configured: only the metric was written")
	} else {
		p, err := events.New(cfg.Events, filepath.Join(cfg.StateDir, "events"), stdio.Getenv, events.WithLogger(rt.logger))
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "event: %v\n", err)
			rt.close()
			return 2
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, res, err := p.Send(sctx, ev)
		cancel()
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "event: not queued: %v\n", err)
			code = 1
		} else {
			fmt.Fprintln(stdio.Stdout, strings.TrimSpace(res.String()))
			for _, line := range undelivered(res) {
				fmt.Fprintln(stdio.Stderr, line)
			}
			if !res.Delivered() {
				code = max(code, eventFailure(res))
			}
		}
	}
	if err := rt.close(); err != nil {
		fmt.Fprintf(stdio.Stderr, "event: flushing the metric: %v\n", err)
		code = exitBackend
	}
	return code
}

// eventFailure is the exit status of an event not delivered everywhere:
// rejected by a graphite-web (a run failed: 1) or kept queued because one
// could not take it now (a backend unreachable: 3).
func eventFailure(res events.Result) int {
	for _, u := range res.URLs {
		if u.Rejected > 0 {
			return exitFailed
		}
	}
	if res.Pending() > 0 {
		return exitBackend
	}
	return exitFailed
}

// undelivered says what becomes of the events graphite-web did not take:
// queued ones are posted later, rejected ones never are. Each outcome gets
// its own line, and only when it happened.
func undelivered(res events.Result) []string {
	var lines []string
	if n := res.Pending(); n > 0 {
		lines = append(lines, fmt.Sprintf("event: %d event(s) kept queued; the daemon (or the next `cdnmetrics event`) posts them when graphite-web answers", n))
	}
	rejected := 0
	for _, u := range res.URLs {
		rejected += u.Rejected
	}
	if rejected > 0 {
		lines = append(lines, fmt.Sprintf("event: %d event(s) rejected by graphite-web and not retried (kept under rejected/ in the queue for inspection): correct the event and post it again", rejected))
	}
	return lines
}
