package config

import (
	"fmt"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// validateCommandKeys checks the keys added for the commands (#18):
// log_format and graphite-web's basic auth.
func (c *Config) validateCommandKeys(getenv func(string) string) []collectors.Problem {
	var ps []collectors.Problem
	bad := func(key, msg string) { ps = append(ps, collectors.Problem{Key: key, Message: msg}) }
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format", fmt.Sprintf("%q is not one of text, json", c.LogFormat))
	}
	if c.Graphite.PasswordEnv != "" {
		if c.Graphite.Username == "" {
			bad("graphite.password_env", "set graphite.username too (basic auth needs both)")
		}
		if err := (collectors.Env{Getenv: getenv}).CheckSecretEnv(c.Graphite.PasswordEnv); err != nil {
			bad("graphite.password_env", err.Error())
		}
	}
	return ps
}

// shareGraphiteWebAuth gives [events] the basic auth of [graphite] when
// it sets none of its own: the events API is graphite-web too, usually
// the same one, and one set of credentials should be enough to configure.
func (c *Config) shareGraphiteWebAuth() {
	if c.Events.Username == "" && c.Events.PasswordEnv == "" {
		c.Events.Username, c.Events.PasswordEnv = c.Graphite.Username, c.Graphite.PasswordEnv
	}
}

// ReadBackSections are the sections the commands that only talk to
// graphite-web (compare, graph) and post events (event) use: their
// problems stop those commands; a vendor section's do not, so a CI gate
// running `compare` needs no CDN secret.
var ReadBackSections = []string{"", "state_dir", "log_level", "log_format", "clock_skew_tolerance", "graphite", "events", "compare"}

// Only returns the problems whose key lies in one of sections ("" stands
// for problems of the file as a whole, such as a TOML syntax error).
// Unknown sections and keys are kept wherever they are: a typo is never
// ignored.
func (ps Problems) Only(sections ...string) Problems {
	var out Problems
	for _, p := range ps {
		first := p.Key
		if i := strings.IndexAny(first, ".["); i >= 0 {
			first = first[:i]
		}
		keep := strings.HasPrefix(p.Message, "unknown section or key") || strings.HasPrefix(p.Message, "unknown key")
		for _, s := range sections {
			if first == s {
				keep = true
			}
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}
