package probe

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Name is the config section.
const Name = "probe"

// Options is the [probe] section.
type Options struct {
	// Cron is the daemon's schedule. By default, "@every 1m".
	Cron string `toml:"schedule"`
	// Timeout bounds one probe, body included. By default, 10s.
	Timeout time.Duration `toml:"timeout"`
	// Concurrency is how many probes run at once. By default, 8.
	Concurrency int `toml:"concurrency"`
	// Step is what probe times are aligned down to. By default, 60s.
	Step time.Duration `toml:"step"`
	// Targets are the URLs to probe.
	Targets []Target `toml:"target"`
}

// Target is one [[probe.target]].
type Target struct {
	Provider string `toml:"provider"` // provider element of the path
	Service  string `toml:"service"`  // service element of the path
	URL      string `toml:"url"`      // what to request (GET)
	// Host overrides the Host header (like curl -H 'Host: …'), e.g. to
	// reach a site through a CDN's own hostname. TLS still verifies the
	// URL's host name.
	Host string `toml:"host"`
	// ExpectStatus is the status a good answer has. By default (0), any
	// status below 400.
	ExpectStatus int `toml:"expect_status"`
}

// DefaultOptions returns the defaults the section is decoded over.
func DefaultOptions() *Options {
	return &Options{Cron: "@every 1m", Timeout: 10 * time.Second, Concurrency: 8, Step: time.Minute}
}

// Schedule implements collectors.Options.
func (o *Options) Schedule() string { return o.Cron }

// Validate implements collectors.Options.
func (o *Options) Validate(collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(warn bool, key, format string, a ...any) {
		ps = append(ps, collectors.Problem{Key: Name + "." + key, Message: fmt.Sprintf(format, a...), Warning: warn})
	}
	if o.Timeout <= 0 || o.Timeout > 5*time.Minute {
		add(false, "timeout", "%v must be above 0 and at most 5m", o.Timeout)
	}
	if o.Concurrency < 1 || o.Concurrency > 256 {
		add(false, "concurrency", "%d must be 1…256", o.Concurrency)
	}
	if o.Step < time.Second || o.Step%time.Second != 0 || (24*time.Hour)%o.Step != 0 {
		add(false, "step", "%v must be a whole number of seconds that divides a day", o.Step)
	}
	if len(o.Targets) == 0 {
		add(false, "target", "at least one [[probe.target]] is needed")
	}
	seen := map[[2]string]int{}
	for i, t := range o.Targets {
		k := fmt.Sprintf("target[%d]", i)
		if strings.TrimSpace(t.Provider) == "" {
			add(false, k+".provider", "must be set")
		}
		if strings.TrimSpace(t.Service) == "" {
			add(false, k+".service", "must be set")
		}
		u, err := url.Parse(t.URL)
		switch {
		case t.URL == "":
			add(false, k+".url", "must be set")
		case err != nil:
			add(false, k+".url", "%v", redactErr(err))
		case u.Scheme != "http" && u.Scheme != "https":
			add(false, k+".url", "scheme %q: want http or https", u.Scheme)
		case u.Host == "":
			add(false, k+".url", "has no host")
		}
		if t.Host != "" && strings.ContainsAny(t.Host, " /\t\r\n") {
			add(false, k+".host", "%q is not a host name", t.Host)
		}
		if t.ExpectStatus != 0 && (t.ExpectStatus < 100 || t.ExpectStatus > 599) {
			add(false, k+".expect_status", "%d is not an HTTP status", t.ExpectStatus)
		}
		// Sanitised, as in paths: "www.prod" and "WWW prod" are one path.
		pk := [2]string{schema.Sanitize(t.Provider), schema.Sanitize(t.Service)}
		if j, dup := seen[pk]; dup {
			add(true, k, "same provider and service as target[%d]: when both answer from the same POP their points overwrite each other", j)
		} else {
			seen[pk] = i
		}
	}
	return ps
}
