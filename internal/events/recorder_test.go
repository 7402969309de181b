package events

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

func TestRecorderWritesMetricThenEvent(t *testing.T) {
	f := newFakeWeb(t)
	now := time.Unix(1795381779, 0)
	p := newPoster(t, t.TempDir(), config.Events{GraphiteWebURLs: []string{f.URL}, Tags: []string{"cdnmetrics"}}, WithClock(func() time.Time { return now }))
	var got []collectors.Batch
	fail := false
	r := p.Recorder("cdn", collectors.EmitterFunc(func(_ context.Context, b collectors.Batch) error {
		if fail {
			return errors.New("sink closed")
		}
		got = append(got, b)
		return nil
	}))
	if err := r.PostEvent(context.Background(), Event{What: "cdn-config", Tags: []string{"cdn-config", "fastly"}}); err != nil {
		t.Fatal(err)
	}
	// Zero When becomes now (1795381779); config tags stay out of paths.
	pts := got[0].Points
	if len(pts) != 3 || pts[0].Path != "cdn.events.cdn-config.cdn-config" || pts[1].Path != "cdn.events.cdn-config.fastly" ||
		pts[2].Path != "cdn.events.cdn-config.all" || pts[2].Time != 1795381779 {
		t.Fatalf("points %+v", pts)
	}
	if n := queueLen(t, p, 0); n != 1 {
		t.Fatalf("queue holds %d events, want 1", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	waitFor(t, "Run to deliver", func() bool { return len(f.events()) == 1 })
	if ev := f.events(); ev[0].When != 1795381779 {
		t.Fatalf("events %+v", ev)
	}
	fail = true
	if err := r.PostEvent(context.Background(), Event{What: "deploy"}); err == nil {
		t.Fatal("sink failure not reported")
	}
	if queueLen(t, p, 0) != 0 || len(f.events()) != 1 {
		t.Fatal("event queued although its metric could not be written")
	}
}
