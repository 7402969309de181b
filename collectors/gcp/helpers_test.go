package gcp

import (
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/gcp/gcpsim" // registers the stand-in
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

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
