package fastly

import (
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func TestOptionsValidate(t *testing.T) {
	env := collectors.Env{Getenv: func(k string) string {
		if k == "FASTLY_API_TOKEN" {
			return "x"
		}
		return ""
	}}
	if ps := defaults().Validate(env); len(ps) != 0 {
		t.Fatalf("defaults: %v", ps)
	}
	cases := []struct {
		name   string
		mutate func(o *Options)
		key    string
	}{
		{"token env unset", func(o *Options) { o.TokenEnv = "NOPE" }, "fastly.token_env"},
		{"no token source", func(o *Options) { o.TokenEnv = "" }, "fastly.token_env"},
		{"token file missing", func(o *Options) { o.TokenFile = "/nonexistent/token" }, "fastly.token_file"},
		{"bad api url", func(o *Options) { o.APIURL = "api.fastly.com" }, "fastly.api_url"},
		{"bad rt url", func(o *Options) { o.RTURL = "ftp://rt.fastly.com" }, "fastly.rt_url"},
		{"resolution not whole seconds", func(o *Options) { o.Resolution = collectors.Duration(1500 * time.Millisecond) }, "fastly.resolution"},
		{"resolution not dividing an hour", func(o *Options) { o.Resolution = collectors.Duration(7 * time.Second) }, "fastly.resolution"},
		{"resolution too long", func(o *Options) { o.Resolution = collectors.Duration(2 * time.Hour) }, "fastly.resolution"},
		{"duplicate service", func(o *Options) { o.Service = []Service{{ID: "A"}, {ID: "A"}} }, "fastly.service[1].id"},
		{"empty service id", func(o *Options) { o.Service = []Service{{Name: "www"}} }, "fastly.service[0].id"},
		{"duplicate region", func(o *Options) { o.Regions = []string{"usa", "usa"} }, "fastly.regions[1]"},
		{"region all", func(o *Options) { o.Regions = []string{"all"} }, "fastly.regions[0]"},
		{"region with a slash", func(o *Options) { o.Regions = []string{"usa/x"} }, "fastly.regions[0]"},
		{"negative overlap", func(o *Options) { o.Overlap = -1 }, "fastly.delay"},
		{"no concurrency", func(o *Options) { o.Concurrency = 0 }, "fastly.concurrency"},
		{"per-POP inspectors without an inspector", func(o *Options) { o.InspectorsPerPOP = true }, "fastly.inspectors_per_pop"},
	}
	for _, c := range cases {
		o := defaults()
		c.mutate(o)
		ps := o.Validate(env)
		if len(ps) != 1 || ps[0].Key != c.key {
			t.Errorf("%s: problems %v, want one for %s", c.name, ps, c.key)
		}
	}
	// The message names the variable, never a value.
	o := defaults()
	o.TokenEnv = "MY_FASTLY"
	if ps := o.Validate(env); len(ps) != 1 || !strings.Contains(ps[0].String(), "fastly.token_env: environment variable MY_FASTLY is not set") {
		t.Errorf("%v", ps)
	}
}

// The documented section decodes completely (no unknown keys) over the
// defaults, and the timing follows it.
func TestOptionsDecodeAndTiming(t *testing.T) {
	text := `[fastly]
api_url   = "https://api.fastly.com"
rt_url    = "https://rt.fastly.com"
token_env = "FASTLY_API_TOKEN"
schedule  = "@every 1m"
resolution = "10s"
regions = ["usa", "europe"]
delay = "4m"
overlap = "20m"
lookback = "2h"
[[fastly.service]]
id   = "SU1Z0isxPaozGVKXdv0eY"
name = "www"
`
	o := defaults()
	md, err := decodeTOML(text, o)
	if err != nil || len(md.Undecoded()) != 0 {
		t.Fatalf("err %v undecoded %v", err, md.Undecoded())
	}
	if time.Duration(o.Resolution) != 10*time.Second || len(o.Service) != 1 || o.Service[0].Name != "www" || o.Schedule() != "@every 1m" || len(o.Regions) != 2 {
		t.Fatalf("%+v", o)
	}
	f, ok := collectors.Lookup("fastly")
	if !ok {
		t.Fatal("not registered")
	}
	tm := f.Timing(o)
	if tm.Step != time.Minute || tm.Delay != 4*time.Minute || tm.Overlap != 20*time.Minute || tm.Lookback != 2*time.Hour || tm.MaxWindow != 6*time.Hour {
		t.Fatalf("timing %+v", tm)
	}
	if _, err := decodeTOML("[fastly]\nresolution = \"soon\"\n", defaults()); err == nil {
		t.Fatal("bad duration accepted")
	}
}
