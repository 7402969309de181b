package simulate_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

type recorder struct {
	mu      sync.Mutex
	records []schema.Record
	points  []schema.Point // ready-made points (Fastly's inspectors)
}

func (r *recorder) Emit(_ context.Context, b collectors.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, b.Records...)
	r.points = append(r.points, b.Points...)
	return nil
}

func flatten(recs []schema.Record) []string {
	var out []string
	for _, r := range recs {
		var fs []string
		for _, f := range schema.Fields() {
			if v, ok := r.Get(f); ok {
				fs = append(fs, fmt.Sprintf("%s=%v", f, v))
			}
		}
		out = append(out, fmt.Sprintf("%s %s %s %d/%d %s", r.Provider, r.Service, r.Location, r.Start, r.Step, strings.Join(fs, " ")))
	}
	sort.Strings(out)
	return out
}

func hits(recs []schema.Record) float64 {
	sum := 0.0
	for _, r := range recs {
		if v, ok := r.Get(schema.Hits); ok && r.Location == schema.LocationAll {
			sum += v
		}
	}
	return sum
}

// With the demo model every stand-in serves its provider's character and
// its Expect computes the same: a collector reading the stand-in emits
// exactly what Expect says, and that differs from what the same stand-in
// serves from the plain model (the character reached the stand-in).
func TestStandInsServeTheirCharacterAndExpectFollows(t *testing.T) {
	day := int64(1767225600) // 2026-01-01T00:00:00Z; cloudflare's spell runs 00:00–00:10
	w := collectors.Window{Start: time.Unix(day, 0), End: time.Unix(day+30*60, 0)}
	now := w.End.Add(2 * time.Hour)
	collect := func(t *testing.T, name string, m *traffic.Model) []schema.Record {
		env := collectors.Env{Getenv: collectorstest.SimEnv(collectors.SimSecret)}
		opts, factory := collectorstest.SimOptions(t, name, simulate.Env{Model: m, Now: func() time.Time { return now },
			Secret: func(string) string { return collectors.SimSecret }}, env)
		c, err := factory.New(opts, env)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Collect(ctx, w, rec); err != nil {
			t.Fatal(err)
		}
		return rec.records
	}
	n := 0
	for _, name := range simulate.Names() {
		sim, _ := simulate.Lookup(name)
		if sim.Expect == nil {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			demo := traffic.Demo(1)
			got := collect(t, name, demo)
			want := sim.Expect(demo, w)
			if len(want) == 0 {
				t.Fatalf("Expect gave no records for %v", w)
			}
			if g, e := strings.Join(flatten(got), "\n"), strings.Join(flatten(want), "\n"); g != e {
				t.Fatalf("collected records differ from Expect\n got:\n%s\nwant:\n%s", g, e)
			}
			plain := collect(t, name, traffic.Default(1))
			if strings.Join(flatten(plain), "\n") == strings.Join(flatten(got), "\n") {
				t.Fatalf("the demo model serves %s the same records as the plain one", name)
			}
			t.Logf("%s: %d records; hits at all: demo %.0f, plain %.0f", name, len(got), hits(got), hits(plain))
		})
	}
	if n < 3 {
		t.Fatalf("only %d stand-ins with Expect", n)
	}
}
