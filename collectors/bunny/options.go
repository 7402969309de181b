package bunny

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// PullZone is one configured Bunny pull zone.
type PullZone struct {
	// ID is the pull zone's numeric id.
	ID int64 `toml:"id"`
	// Name is the service name in Graphite paths; by default, the id.
	Name string `toml:"name"`
	// path, when set, replaces the name in paths: a discovered zone whose
	// name gives another zone's path (see collectors.PathNamer).
	path string
}

func (z PullZone) id() string { return strconv.FormatInt(z.ID, 10) }

// label is the name filters and --service match.
func (z PullZone) label() string {
	if z.Name != "" {
		return z.Name
	}
	return z.id()
}

// pathName is the name used in paths and messages.
func (z PullZone) pathName() string {
	if z.path != "" {
		return z.path
	}
	return z.label()
}

// Options is the [bunny] section.
type Options struct {
	// APIURL is the API base; by default, https://api.bunny.net.
	APIURL string `toml:"api_url"`
	// TokenEnv names the environment variable holding the account API key
	// (sent as the AccessKey header); by default, BUNNY_API_KEY.
	TokenEnv string `toml:"token_env"`
	// TokenFile is a file holding the API key; it wins over TokenEnv.
	TokenFile string `toml:"token_file"`
	// PullZones lists the pull zones ([[bunny.pullzone]]); none means every
	// pull zone of the account (GET /pullzone).
	PullZones []PullZone `toml:"pullzone"`
	// Cron is the schedule; by default, "@every 15m".
	Cron string `toml:"schedule"`
	// WindowKeys: by default, delay 10m, overlap 3h, lookback 6h (hourly
	// buckets, first read 10 minutes after the hour ends and re-read for
	// three hours).
	collectors.WindowKeys
	collectors.Common
}

const defaultAPIURL = "https://api.bunny.net"

func defaultOptions() *Options {
	return &Options{
		APIURL:   defaultAPIURL,
		TokenEnv: "BUNNY_API_KEY",
		Cron:     "@every 15m",
		WindowKeys: collectors.WindowKeys{
			Delay:    collectors.Duration(10 * time.Minute),
			Overlap:  collectors.Duration(3 * time.Hour),
			Lookback: collectors.Duration(6 * time.Hour),
		},
	}
}

// Schedule returns the cron spec.
func (o *Options) Schedule() string { return o.Cron }

// Validate reports every problem with the section.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(warn bool, key, format string, args ...any) {
		ps = append(ps, collectors.Problem{Key: provider + "." + key, Message: fmt.Sprintf(format, args...), Warning: warn})
	}
	ps = append(ps, o.CommonProblems(provider)...)
	ps = append(ps, o.WindowProblems(provider, retention)...)
	if time.Duration(o.Lookback) > 0 && time.Duration(o.Lookback) < bucket*time.Second {
		add(false, "lookback", "%v: shorter than Bunny's one-hour buckets, a first run would read nothing", time.Duration(o.Lookback))
	}
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
	names := make([]string, len(o.PullZones))
	for i, z := range o.PullZones {
		key := fmt.Sprintf("pullzone[%d]", i)
		if z.ID <= 0 {
			add(false, key+".id", "pull zone id %d: must be a positive number (Bunny's pull zone id)", z.ID)
			continue
		}
		if j, dup := ids[z.ID]; dup {
			add(false, key+".id", "duplicate pull zone id %d (also pullzone[%d])", z.ID, j)
		}
		ids[z.ID] = i
		names[i] = z.label()
	}
	ps = append(ps, collectors.NameClashes(names, func(i int) string { return fmt.Sprintf("%s.pullzone[%d].name", provider, i) })...)
	return ps
}
