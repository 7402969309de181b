package originlog

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Name is the config section and the state file's name.
const Name = "originlog"

// Options is the [originlog] section.
type Options struct {
	// Service is the <service> element of every path.
	Service string `toml:"service"`
	// Cron is the daemon's schedule. By default, "@every 1m".
	Cron string `toml:"schedule"`
	// Step is the interval lines are counted in. By default, 60s.
	Step time.Duration `toml:"step"`
	// Hold is how long after its end an interval's counts are kept (and
	// re-emitted whole when more of its lines arrive). By default, 10m.
	Hold time.Duration `toml:"hold"`
	// StartAt says where the very first run starts in a file it has no
	// state for: "beginning" (count the whole file) or "end". By default,
	// "beginning".
	StartAt string `toml:"start_at"`
	// Providers, when set, is the only provider names counted by name;
	// other header values count as "other". "direct" is always allowed.
	// Listed providers get a 0 in every interval that saw any line.
	Providers []string `toml:"providers"`
	// MaxProviders caps the distinct provider names held at once (the
	// header is set by whoever sends the request); more count as "other".
	// By default, 20.
	MaxProviders int `toml:"max_providers"`
	// Files are the access logs to read.
	Files []FileOptions `toml:"file"`
	// Beacons counts failure-beacon hits.
	Beacons BeaconOptions `toml:"beacons"`
}

// FileOptions is one [[originlog.file]].
type FileOptions struct {
	// Path of the log; rotated copies are looked for beside it as
	// <path>.* and <path>-*.
	Path string `toml:"path"`
	// Pattern is a regular expression with named groups time, status,
	// provider and optionally bytes. By default, DefaultPattern, read by a
	// hand-written parser.
	Pattern string `toml:"pattern"`
	// TimeFormat is the Go layout of the time group, or "unix" for epoch
	// seconds (nginx $msec). By default, DefaultTimeFormat.
	TimeFormat string `toml:"time_format"`
}

// BeaconOptions is [originlog.beacons].
type BeaconOptions struct {
	// Pattern matches a beacon request anywhere in a line and captures
	// (?P<source>…). Empty: no beacon counting.
	Pattern string `toml:"pattern"`
	// MaxSources caps distinct sources held at once; more count as
	// "other". By default, 100.
	MaxSources int `toml:"max_sources"`
}

// DefaultOptions returns the defaults the section is decoded over.
func DefaultOptions() *Options {
	return &Options{
		Cron:         "@every 1m",
		Step:         time.Minute,
		Hold:         10 * time.Minute,
		StartAt:      "beginning",
		MaxProviders: 20,
		Beacons:      BeaconOptions{MaxSources: 100},
	}
}

// Schedule implements collectors.Options.
func (o *Options) Schedule() string { return o.Cron }

// Validate implements collectors.Options.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(key, format string, a ...any) {
		ps = append(ps, collectors.Problem{Key: Name + "." + key, Message: fmt.Sprintf(format, a...)})
	}
	if strings.TrimSpace(o.Service) == "" {
		add("service", "must be set (the <service> element of the origin paths)")
	}
	if o.Step < time.Second || o.Step%time.Second != 0 || (24*time.Hour)%o.Step != 0 {
		add("step", "%v must be a whole number of seconds that divides a day", o.Step)
	}
	if o.Hold < o.Step {
		add("hold", "%v must be at least the step (%v)", o.Hold, o.Step)
	}
	if o.StartAt != "beginning" && o.StartAt != "end" {
		add("start_at", "%q must be \"beginning\" or \"end\"", o.StartAt)
	}
	if o.MaxProviders < 1 {
		add("max_providers", "%d must be at least 1", o.MaxProviders)
	}
	for i, p := range o.Providers {
		if schema.Sanitize(p) != p {
			add(fmt.Sprintf("providers[%d]", i), "%q must be lower case [a-z0-9_-] as it appears in paths", p)
		}
	}
	if len(o.Files) == 0 {
		add("file", "at least one [[originlog.file]] with a path is needed")
	}
	seen := map[string]int{}
	for i, f := range o.Files {
		key := fmt.Sprintf("file[%d]", i)
		if f.Path == "" {
			add(key+".path", "must be set")
		} else if j, dup := seen[f.Path]; dup {
			add(key+".path", "%q is also file[%d]", f.Path, j)
		} else {
			seen[f.Path] = i
		}
		if f.Pattern != "" {
			if _, err := compilePattern(f.Pattern); err != nil {
				add(key+".pattern", "%v", err)
			}
		}
		if l := f.TimeFormat; l != "" && l != "unix" {
			// A layout must carry a whole date and time to the second:
			// format a known instant with it and read it back.
			ref := time.Unix(971211336, 0).UTC()
			if got, err := time.Parse(l, ref.Format(l)); err != nil || !got.Equal(ref) {
				add(key+".time_format", "%q is not a Go time layout with date and time to the second (e.g. %q) or \"unix\"", l, DefaultTimeFormat)
			}
		}
	}
	if o.Beacons.Pattern != "" {
		re, err := regexp.Compile(o.Beacons.Pattern)
		switch {
		case err != nil:
			add("beacons.pattern", "%v", err)
		case re.SubexpIndex("source") < 0:
			add("beacons.pattern", "has no named group (?P<source>…)")
		}
	}
	if o.Beacons.MaxSources < 1 {
		add("beacons.max_sources", "%d must be at least 1", o.Beacons.MaxSources)
	}
	if env.StateDir == "" {
		ps = append(ps, collectors.Problem{Key: Name, Warning: true,
			Message: "no state directory: offsets and open intervals live in memory only, so every process start reads the logs again from start_at"})
	}
	return ps
}
