package gcp

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/gcp/gcpsim" // registers the stand-in
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// flatten renders records one line each, fields in schema order, sorted.
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

func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records differ\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name)) // copies of ../shared/api-samples/gcp
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// simSetup starts the stand-in under /gcp as the simulator mounts it and
// builds the collector from gcpsim.Config's section (its key file, its
// token endpoint).
func simSetup(t testing.TB, m *traffic.Model, now time.Time) *Collector {
	t.Helper()
	env := collectors.Env{Getenv: collectorstest.SimEnv(collectors.SimSecret)}
	opts, _ := collectorstest.SimOptions(t, provider, simulate.Env{Model: m, Now: func() time.Time { return now }}, env)
	c, err := build(opts.(*Options), env, httpx.WithBackoff(time.Millisecond, 4*time.Millisecond), httpx.WithRate(1000, 1000))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decodeSection decodes a [gcp] section over the defaults, as the config
// package does.
func decodeSection(t testing.TB, section string) *Options {
	t.Helper()
	var raw map[string]toml.Primitive
	md, err := toml.Decode(section, &raw)
	if err != nil {
		t.Fatal(err)
	}
	o := defaultOptions()
	if err := md.PrimitiveDecode(raw[provider], o); err != nil {
		t.Fatal(err)
	}
	return o
}
