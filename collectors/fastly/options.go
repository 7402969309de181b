package fastly

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Options is the [fastly] section. Every key is optional except a way to
// find the token.
type Options struct {
	// APIURL is the historical stats and service API base; RTURL the
	// real-time API base. By default, Fastly's.
	APIURL string `toml:"api_url"`
	RTURL  string `toml:"rt_url"`
	// TokenEnv names the environment variable holding the API token;
	// TokenFile, when set, is a file holding it instead. The token itself
	// is never part of the configuration.
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	// Cron is the cron spec of the historical runs. By default, every minute.
	Cron string `toml:"schedule"`
	// Resolution is the step the real-time stream is aggregated to. By
	// default, 60s.
	Resolution collectors.Duration `toml:"resolution"`
	// Regions are the historical API regions read besides the total. By
	// default, all of Fastly's.
	Regions []string `toml:"regions"`
	// Delay, Overlap and Lookback shape the historical windows. By default,
	// 5m, 15m and 1h.
	collectors.WindowKeys
	// Concurrency is how many services Collect reads at once. By default,
	// 1: requests go out one after the other, in a fixed order.
	Concurrency int `toml:"concurrency"`
	// Service lists the services to collect; empty means discover them.
	Service []Service `toml:"service"`
	// OriginInspector and DomainInspector add the per-origin and per-domain
	// series of Fastly's Origin Inspector and Domain Inspector for the
	// services whose account has the product (inspect.go); off by
	// default. InspectorsPerPOP writes them per POP too, not only under
	// location "all" (cardinality: names × POPs × metrics).
	OriginInspector  bool `toml:"origin_inspector"`
	DomainInspector  bool `toml:"domain_inspector"`
	InspectorsPerPOP bool `toml:"inspectors_per_pop"`
	// Common holds request_timeout; real-time requests get the long poll
	// on top of it (see New).
	collectors.Common
}

// Service is one [[fastly.service]]: its id, and the name used in paths
// (by default, the service's name from the API).
type Service struct {
	ID   string `toml:"id"`
	Name string `toml:"name"`
}

// DefaultRegions are Fastly's historical stats regions.
var DefaultRegions = []string{"usa", "europe", "asia", "asia_india", "asia_southkorea", "anzac", "southamerica_std", "africa_std", "mexico"}

func defaults() *Options {
	return &Options{
		APIURL:     "https://api.fastly.com",
		RTURL:      "https://rt.fastly.com",
		TokenEnv:   "FASTLY_API_TOKEN",
		Cron:       "@every 1m",
		Resolution: collectors.Duration(time.Minute),
		Regions:    slices.Clone(DefaultRegions), // decoding must not write into the package's list
		// Fastly: minute data "usually becomes available two minutes after
		// the end of the minute, but can take up to 15 minutes". Read from
		// 5 min after and keep re-reading until 20 min after.
		WindowKeys: collectors.WindowKeys{
			Delay:    collectors.Duration(5 * time.Minute),
			Overlap:  collectors.Duration(15 * time.Minute),
			Lookback: collectors.Duration(time.Hour),
		},
		Concurrency: 1,
	}
}

// Schedule implements collectors.Options.
func (o *Options) Schedule() string { return o.Cron }

// Validate implements collectors.Options.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	bad := func(key, msg string) { ps = append(ps, collectors.Problem{Key: "fastly." + key, Message: msg}) }
	ps = append(ps, o.CommonProblems("fastly")...)
	for key, u := range map[string]string{"api_url": o.APIURL, "rt_url": o.RTURL} {
		if err := collectors.CheckURL(u); err != nil {
			bad(key, err.Error())
		}
	}
	switch {
	case o.TokenFile != "":
		if warn, err := collectors.CheckSecretFile(o.TokenFile); err != nil {
			bad("token_file", err.Error())
		} else if warn != "" {
			ps = append(ps, collectors.Problem{Key: "fastly.token_file", Message: warn, Warning: true})
		}
	case o.TokenEnv == "":
		bad("token_env", "set token_env (an environment variable name) or token_file")
	case env.CheckSecretEnv(o.TokenEnv) != nil:
		bad("token_env", fmt.Sprintf("%v", env.CheckSecretEnv(o.TokenEnv)))
	}
	res := time.Duration(o.Resolution)
	if res < time.Second || res%time.Second != 0 || res > time.Hour || time.Hour%res != 0 {
		// Buckets align to the epoch; a divisor of an hour keeps them on
		// minute/hour boundaries like every other series.
		bad("resolution", fmt.Sprintf("%v: must be whole seconds between 1s and 1h that divide an hour (e.g. 10s, 60s)", res))
	}
	if o.Delay < 0 || o.Overlap < 0 || o.Lookback <= 0 {
		bad("delay", "delay and overlap must not be negative, lookback must be positive")
	}
	if o.Delay > collectors.Duration(2*time.Hour) || o.Overlap > collectors.Duration(24*time.Hour) || o.Lookback > collectors.Duration(35*24*time.Hour) {
		bad("delay", "delay at most 2h, overlap at most 24h, lookback at most 35d (Fastly keeps minute data 35 days)")
	}
	if o.Concurrency < 1 || o.Concurrency > 16 {
		bad("concurrency", fmt.Sprintf("%d: must be between 1 and 16", o.Concurrency))
	}
	seenRegion := map[string]bool{}
	for i, r := range o.Regions {
		key := fmt.Sprintf("regions[%d]", i)
		switch {
		case r == "" || strings.TrimSpace(r) != r || strings.ContainsAny(r, "/?&#. "):
			bad(key, fmt.Sprintf("%q is not a Fastly region name", r))
		case r == "all":
			bad(key, `"all" is collected anyway (Fastly's total without a region)`)
		case seenRegion[r]:
			bad(key, fmt.Sprintf("duplicate region %q", r))
		}
		seenRegion[r] = true
	}
	seen := map[string]bool{}
	for i, s := range o.Service {
		if s.ID == "" {
			bad(fmt.Sprintf("service[%d].id", i), "must not be empty")
		}
		if seen[s.ID] {
			bad(fmt.Sprintf("service[%d].id", i), fmt.Sprintf("duplicate service id %q", s.ID))
		}
		seen[s.ID] = true
	}
	if o.InspectorsPerPOP && !o.OriginInspector && !o.DomainInspector {
		bad("inspectors_per_pop", "set origin_inspector or domain_inspector too: there is nothing to write per POP otherwise")
	}
	names := make([]string, len(o.Service))
	for i, s := range o.Service {
		names[i] = s.Name
	}
	ps = append(ps, collectors.NameClashes(names, func(i int) string { return fmt.Sprintf("fastly.service[%d].name", i) })...)
	return ps
}
