package fastly

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Options is the [fastly] section.
type Options struct {
	APIURL    string `toml:"api_url"`
	RTURL     string `toml:"rt_url"`
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	Sched     string `toml:"schedule"`
	// Resolution is the step the real-time stream is aggregated to.
	Resolution duration `toml:"resolution"`
	// Regions are the historical API regions read besides the total.
	Regions []string `toml:"regions"`
	// Delay, Overlap and Lookback shape the historical windows.
	Delay    duration  `toml:"delay"`
	Overlap  duration  `toml:"overlap"`
	Lookback duration  `toml:"lookback"`
	Service  []Service `toml:"service"`
}

// Service is one [[fastly.service]].
type Service struct {
	ID   string `toml:"id"`
	Name string `toml:"name"`
}

type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q", b)
	}
	*d = duration(v)
	return nil
}

// DefaultRegions are Fastly's historical stats regions.
var DefaultRegions = []string{"usa", "europe", "asia", "asia_india", "asia_southkorea", "anzac", "southamerica_std", "africa_std", "mexico"}

func defaults() *Options {
	return &Options{
		APIURL:     "https://api.fastly.com",
		RTURL:      "https://rt.fastly.com",
		TokenEnv:   "FASTLY_API_TOKEN",
		Sched:      "@every 1m",
		Resolution: duration(time.Minute),
		Regions:    DefaultRegions,
		Delay:      duration(5 * time.Minute),
		Overlap:    duration(10 * time.Minute),
		Lookback:   duration(time.Hour),
	}
}

// Schedule implements collectors.Options.
func (o *Options) Schedule() string { return o.Sched }

// Validate implements collectors.Options.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	bad := func(key, msg string) { ps = append(ps, collectors.Problem{Key: "fastly." + key, Message: msg}) }
	for key, u := range map[string]string{"api_url": o.APIURL, "rt_url": o.RTURL} {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad(key, fmt.Sprintf("%q is not an http(s) URL", u))
		}
	}
	switch {
	case o.TokenFile != "":
		if _, err := os.Stat(o.TokenFile); err != nil {
			bad("token_file", fmt.Sprintf("cannot read %s", o.TokenFile))
		}
	case o.TokenEnv == "":
		bad("token_env", "set token_env (an environment variable name) or token_file")
	case env.Getenv(o.TokenEnv) == "":
		bad("token_env", fmt.Sprintf("environment variable %s is not set", o.TokenEnv))
	}
	res := time.Duration(o.Resolution)
	if res < time.Second || res%time.Second != 0 || res > time.Hour {
		bad("resolution", "must be whole seconds between 1s and 1h")
	}
	if o.Delay < 0 || o.Overlap < 0 || o.Lookback <= 0 {
		bad("delay", "delay and overlap must not be negative, lookback must be positive")
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
	return ps
}

// token reads the credential; it never appears in errors.
func (o *Options) token(env collectors.Env) (string, error) {
	if o.TokenFile != "" {
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return "", fmt.Errorf("fastly: cannot read token_file %s", o.TokenFile)
		}
		return string(trimSpace(b)), nil
	}
	t := env.Getenv(o.TokenEnv)
	if t == "" {
		return "", fmt.Errorf("fastly: environment variable %s is not set", o.TokenEnv)
	}
	return t, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
