package akamai

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/akamai/AkamaiOPEN-edgegrid-golang/v13/pkg/edgegrid"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// Options is the [akamai] section.
type Options struct {
	// APIURL overrides the host from .edgerc (tests, the simulator).
	APIURL  string `toml:"api_url"`
	Edgerc  string `toml:"edgerc"`
	Section string `toml:"section"`
	Cron    string `toml:"schedule"`
	// WindowKeys: by default, delay 20m, overlap 30m, lookback 2h (Akamai
	// data lags about 15 minutes and is revised).
	collectors.WindowKeys
	CPCode []CPCode `toml:"cpcode"`
	collectors.Common
}

// CPCode is one [[akamai.cpcode]].
type CPCode struct {
	ID   int64  `toml:"id"`
	Name string `toml:"name"`
}

func defaults() *Options {
	return &Options{
		Edgerc:  "~/.edgerc",
		Section: "default",
		Cron:    "*/5 * * * *",
		WindowKeys: collectors.WindowKeys{
			Delay:    collectors.Duration(20 * time.Minute),
			Overlap:  collectors.Duration(30 * time.Minute),
			Lookback: collectors.Duration(2 * time.Hour),
		},
	}
}

// Schedule implements collectors.Options.
func (o *Options) Schedule() string { return o.Cron }

// Validate implements collectors.Options.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	bad := func(key, msg string, warn bool) {
		ps = append(ps, collectors.Problem{Key: "akamai." + key, Message: msg, Warning: warn})
	}
	ps = append(ps, o.CommonProblems("akamai")...)
	ps = append(ps, o.WindowProblems("akamai", retention)...)
	if o.APIURL != "" {
		if err := collectors.CheckURL(o.APIURL); err != nil {
			bad("api_url", err.Error(), false)
		}
	}
	if _, err := o.credentials(); err != nil {
		bad("edgerc", err.Error(), false)
	} else if warn := collectors.SecretFileWarning(expand(o.Edgerc)); warn != "" {
		bad("edgerc", warn, true)
	}
	if len(o.CPCode) == 0 {
		bad("cpcode", "list at least one [[akamai.cpcode]] (id, name)", false)
	}
	seen := map[int64]bool{}
	for i, c := range o.CPCode {
		if c.ID <= 0 {
			bad(fmt.Sprintf("cpcode[%d].id", i), "must be a positive CP code", false)
		}
		if seen[c.ID] {
			bad(fmt.Sprintf("cpcode[%d].id", i), fmt.Sprintf("duplicate CP code %d", c.ID), false)
		}
		seen[c.ID] = true
	}
	names := make([]string, len(o.CPCode))
	for i, c := range o.CPCode {
		names[i] = c.name()
	}
	ps = append(ps, collectors.NameClashes(names, func(i int) string { return fmt.Sprintf("akamai.cpcode[%d].name", i) })...)
	if o.Delay < collectors.Duration(15*time.Minute) {
		bad("delay", "Akamai data lags about 15 minutes; a shorter delay reads incomplete intervals", true)
	}
	return ps
}

// credentials loads the .edgerc section; errors never quote the secret.
func (o *Options) credentials() (*edgegrid.Config, error) {
	cfg, err := edgegrid.New(edgegrid.WithFile(o.Edgerc), edgegrid.WithSection(o.Section))
	if err != nil {
		return nil, fmt.Errorf("cannot load section [%s] of %s: %v", o.Section, o.Edgerc, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("section [%s] of %s: %v", o.Section, o.Edgerc, err)
	}
	for _, v := range []string{cfg.ClientToken, cfg.ClientSecret, cfg.AccessToken} {
		redact.AddSecret(v)
	}
	return cfg, nil
}

func expand(p string) string {
	if len(p) > 1 && p[:2] == "~/" {
		if h, err := os.UserHomeDir(); err == nil {
			return h + p[1:]
		}
	}
	return p
}

func (c CPCode) name() string {
	if c.Name != "" {
		return c.Name
	}
	return strconv.FormatInt(c.ID, 10)
}
