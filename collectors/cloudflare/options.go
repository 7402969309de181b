package cloudflare

import (
	"fmt"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Zone is one configured Cloudflare zone.
type Zone struct {
	// ID is the zone tag (32 hex digits in Cloudflare).
	ID string `toml:"id"`
	// Name is the service name in Graphite paths; by default, the ID.
	Name string `toml:"name"`
	// path, when set, replaces the name in paths: a discovered zone whose
	// name gives another zone's path (see collectors.PathNamer).
	path string
}

// label is the name filters and --service match.
func (z Zone) label() string {
	if z.Name != "" {
		return z.Name
	}
	return z.ID
}

// pathName is the name used in paths and messages.
func (z Zone) pathName() string {
	if z.path != "" {
		return z.path
	}
	return z.label()
}

// Options is the [cloudflare] section.
type Options struct {
	// APIURL is the API base; by default, https://api.cloudflare.com.
	APIURL string `toml:"api_url"`
	// TokenEnv names the environment variable holding the API token; by
	// default, CLOUDFLARE_API_TOKEN.
	TokenEnv string `toml:"token_env"`
	// TokenFile is a file holding the API token; it wins over TokenEnv.
	TokenFile string `toml:"token_file"`
	// AccountID is the account whose zones are discovered when Zones is empty.
	AccountID string `toml:"account_id"`
	// PerColo enables per-POP records from the sampled adaptive dataset; by
	// default, true.
	PerColo bool `toml:"per_colo"`
	// Zones lists the zones to collect ([[cloudflare.zone]]).
	Zones []Zone `toml:"zone"`
	// Cron is the schedule; by default, "@every 1m".
	Cron string `toml:"schedule"`
	// WindowKeys: by default, delay 5m, overlap 10m, lookback 1h (minute
	// data that settles within a few minutes; late rows re-read).
	collectors.WindowKeys
	collectors.Common
}

const defaultAPIURL = "https://api.cloudflare.com"

func defaultOptions() *Options {
	return &Options{
		APIURL:   defaultAPIURL,
		TokenEnv: "CLOUDFLARE_API_TOKEN",
		PerColo:  true,
		Cron:     "@every 1m",
		WindowKeys: collectors.WindowKeys{
			Delay:    collectors.Duration(5 * time.Minute),
			Overlap:  collectors.Duration(10 * time.Minute),
			Lookback: collectors.Duration(time.Hour),
		},
	}
}

// Schedule returns the cron spec.
func (o *Options) Schedule() string { return o.Cron }

// Validate reports every problem with the section.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, collectors.Problem{Key: "cloudflare." + key, Message: fmt.Sprintf(format, args...)})
	}
	ps = append(ps, o.CommonProblems("cloudflare")...)
	ps = append(ps, o.WindowProblems("cloudflare", retention)...)
	if err := collectors.CheckURL(o.APIURL); err != nil {
		add("api_url", "%v", err)
	}
	switch {
	case o.TokenFile != "":
		if warn, err := collectors.CheckSecretFile(o.TokenFile); err != nil {
			add("token_file", "%v", err)
		} else if warn != "" {
			ps = append(ps, collectors.Problem{Key: "cloudflare.token_file", Message: warn, Warning: true})
		}
	case o.TokenEnv == "":
		add("token_env", "set token_env (an environment variable name) or token_file")
	case env.CheckSecretEnv(o.TokenEnv) != nil:
		add("token_env", "%v", env.CheckSecretEnv(o.TokenEnv))
	}
	if len(o.Zones) == 0 && strings.TrimSpace(o.AccountID) == "" {
		add("zone", "list zones ([[cloudflare.zone]] id, name) or set account_id to discover them")
	}
	ids := map[string]int{}
	names := map[string]int{}
	for i, z := range o.Zones {
		key := fmt.Sprintf("zone[%d]", i)
		if strings.TrimSpace(z.ID) == "" {
			add(key+".id", "zone id is empty")
			continue
		}
		if strings.ContainsAny(z.ID, " \t\r\n\"\\") {
			add(key+".id", "zone id %q contains spaces or quotes", z.ID)
		}
		if j, dup := ids[z.ID]; dup {
			add(key+".id", "duplicate zone id %q (also zone[%d])", z.ID, j)
		}
		ids[z.ID] = i
		n := schema.Sanitize(z.label())
		if j, dup := names[n]; dup {
			add(key+".name", "zone name %q gives the same Graphite path as zone[%d]", z.label(), j)
		}
		names[n] = i
	}
	return ps
}
