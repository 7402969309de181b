package gcore

import (
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func problems(o *Options, env map[string]string) string {
	var out []string
	for _, p := range o.Validate(collectors.Env{Getenv: func(k string) string { return env[k] }}) {
		if !p.Warning {
			out = append(out, p.String())
		}
	}
	return strings.Join(out, "\n")
}

func TestValidate(t *testing.T) {
	tok := map[string]string{"GCORE_API_TOKEN": "t"}
	if got := problems(defaultOptions(), tok); got != "" {
		t.Fatalf("defaults with a token: %s", got)
	}
	if got := problems(defaultOptions(), nil); !strings.Contains(got, "gcore.token_env: environment variable GCORE_API_TOKEN is not set") {
		t.Errorf("no token: %q", got)
	}
	cases := []struct {
		edit func(o *Options)
		want string
	}{
		{func(o *Options) { o.Granularity = "2m" }, `gcore.granularity: "2m": must be one of 1m, 5m, 15m, 1h, 1d`},
		{func(o *Options) { o.Granularity = "5min" }, `gcore.granularity: "5min"`},
		// 1-minute buckets are kept about a month: a longer look-back is refused.
		{func(o *Options) { o.Granularity = "1m"; o.Lookback = collectors.Duration(40 * 24 * time.Hour) }, "gcore.lookback: 960h0m0s: must be positive and at most 720h0m0s"},
		{func(o *Options) { o.Lookback = collectors.Duration(400 * 24 * time.Hour) }, "at most 8760h0m0s"},
		{func(o *Options) { o.APIURL = "https://user:pw@api.gcore.com" }, "gcore.api_url"},
		{func(o *Options) { o.Resources = []Resource{{ID: 0}} }, "gcore.resource[0].id: resource id must be a positive integer"},
		{func(o *Options) { o.Resources = []Resource{{ID: 3}, {ID: 3, Name: "x"}} }, "gcore.resource[1].id: duplicate resource id 3"},
		{func(o *Options) { o.Resources = []Resource{{ID: 3, Name: "www.a"}, {ID: 4, Name: "WWW_A"}} }, "gcore.resource[1].name"},
	}
	for _, c := range cases {
		o := defaultOptions()
		c.edit(o)
		if got := problems(o, tok); !strings.Contains(got, c.want) {
			t.Errorf("want %q in\n%s", c.want, got)
		}
	}
	o := defaultOptions()
	o.Granularity = "1m"
	if got := problems(o, tok); got != "" {
		t.Errorf("1m with the default look-back: %s", got)
	}
}

func TestTiming(t *testing.T) {
	for g, step := range map[string]time.Duration{"1m": time.Minute, "5m": 5 * time.Minute, "1d": 24 * time.Hour} {
		o := defaultOptions()
		o.Granularity = g
		tm := timing(o)
		wantRet := 365 * 24 * time.Hour
		if g == "1m" {
			wantRet = 30 * 24 * time.Hour
		}
		if tm.Step != step || tm.MaxWindow != 288*step || tm.Retention != wantRet ||
			tm.Delay != 10*time.Minute || tm.Overlap != 30*time.Minute || tm.Lookback != 2*time.Hour {
			t.Errorf("%s: %+v", g, tm)
		}
	}
}
