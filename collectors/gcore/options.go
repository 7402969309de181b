package gcore

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Resource is one configured Gcore CDN resource.
type Resource struct {
	// ID is the CDN resource id (an integer in Gcore's API).
	ID int64 `toml:"id"`
	// Name is the service name in Graphite paths; by default, the id.
	Name string `toml:"name"`
	// path, when set, replaces the name in paths: a discovered resource
	// whose name gives another resource's path (see collectors.PathNamer).
	path string
}

// idString is the id as Gcore's answers key it.
func (r Resource) idString() string { return strconv.FormatInt(r.ID, 10) }

// label is the name filters and --service match.
func (r Resource) label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.idString()
}

// pathName is the name used in paths and messages.
func (r Resource) pathName() string {
	if r.path != "" {
		return r.path
	}
	return r.label()
}

// Options is the [gcore] section.
type Options struct {
	// APIURL is the API base; by default, https://api.gcore.com.
	APIURL string `toml:"api_url"`
	// TokenEnv names the environment variable holding the permanent API
	// token; by default, GCORE_API_TOKEN.
	TokenEnv string `toml:"token_env"`
	// TokenFile is a file holding the API token; it wins over TokenEnv.
	TokenFile string `toml:"token_file"`
	// Granularity is the bucket Gcore sums over: one of the values its
	// statistics API documents (1m, 5m, 15m, 1h, 1d); by default, 5m.
	Granularity string `toml:"granularity"`
	// Resources lists the CDN resources ([[gcore.resource]]); none means
	// every CDN resource of the account (GET /cdn/resources).
	Resources []Resource `toml:"resource"`
	// Cron is the schedule; by default, "@every 5m".
	Cron string `toml:"schedule"`
	// WindowKeys: by default, delay 10m, overlap 30m, lookback 2h (Gcore
	// does not document when a bucket is final; the last half hour is
	// re-read every run).
	collectors.WindowKeys
	collectors.Common
}

const (
	defaultAPIURL      = "https://api.gcore.com"
	defaultGranularity = "5m"
)

// granularities are the bucket lengths Gcore's /cdn/statistics/series
// accepts (its API reference, parameter granularity).
var granularities = map[string]time.Duration{
	"1m":  time.Minute,
	"5m":  5 * time.Minute,
	"15m": 15 * time.Minute,
	"1h":  time.Hour,
	"1d":  24 * time.Hour,
}

// Retention: Gcore serves resource statistics "for up to 365 days", and
// 1-minute buckets "only for up to 1 month in the past" (API reference);
// a month is taken as 30 days.
const (
	retention       = 365 * 24 * time.Hour
	retentionMinute = 30 * 24 * time.Hour
)

// retentionFor returns how far back Gcore keeps buckets of granularity g.
func retentionFor(g string) time.Duration {
	if g == "1m" {
		return retentionMinute
	}
	return retention
}

func granularityNames() string {
	names := make([]string, 0, len(granularities))
	for n := range granularities {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return granularities[names[i]] < granularities[names[j]] })
	return strings.Join(names, ", ")
}

func defaultOptions() *Options {
	return &Options{
		APIURL:      defaultAPIURL,
		TokenEnv:    "GCORE_API_TOKEN",
		Granularity: defaultGranularity,
		Cron:        "@every 5m",
		WindowKeys: collectors.WindowKeys{
			Delay:    collectors.Duration(10 * time.Minute),
			Overlap:  collectors.Duration(30 * time.Minute),
			Lookback: collectors.Duration(2 * time.Hour),
		},
	}
}

// step returns the granularity as a duration (5m when it is not valid;
// Validate refuses those before a collector is built).
func (o *Options) step() time.Duration {
	if d, ok := granularities[o.Granularity]; ok {
		return d
	}
	return granularities[defaultGranularity]
}

// Schedule returns the cron spec.
func (o *Options) Schedule() string { return o.Cron }

// Validate reports every problem with the section.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(warn bool, key, format string, args ...any) {
		ps = append(ps, collectors.Problem{Key: "gcore." + key, Message: fmt.Sprintf(format, args...), Warning: warn})
	}
	ps = append(ps, o.CommonProblems("gcore")...)
	if _, ok := granularities[o.Granularity]; !ok {
		add(false, "granularity", "%q: must be one of %s (the values Gcore's statistics API accepts)", o.Granularity, granularityNames())
	}
	ps = append(ps, o.WindowProblems("gcore", retentionFor(o.Granularity))...)
	if err := collectors.CheckURL(o.APIURL); err != nil {
		add(false, "api_url", "%v", err)
	}
	switch {
	case o.TokenFile != "":
		if warn, err := collectors.CheckSecretFile(o.TokenFile); err != nil {
			add(false, "token_file", "%v", err)
		} else if warn != "" {
			add(true, "token_file", "%s", warn)
		}
	case o.TokenEnv == "":
		add(false, "token_env", "set token_env (an environment variable name) or token_file")
	case env.CheckSecretEnv(o.TokenEnv) != nil:
		add(false, "token_env", "%v", env.CheckSecretEnv(o.TokenEnv))
	}
	ids := map[int64]int{}
	names := make([]string, len(o.Resources))
	for i, r := range o.Resources {
		key := fmt.Sprintf("resource[%d]", i)
		names[i] = r.label()
		if r.ID <= 0 {
			add(false, key+".id", "resource id must be a positive integer (Gcore's CDN resource id), not %d", r.ID)
			continue
		}
		if j, dup := ids[r.ID]; dup {
			add(false, key+".id", "duplicate resource id %d (also resource[%d])", r.ID, j)
		}
		ids[r.ID] = i
	}
	ps = append(ps, collectors.NameClashes(names, func(i int) string {
		return fmt.Sprintf("gcore.resource[%d].name", i)
	})...)
	return ps
}
