// Package config loads and validates the cdnmetrics configuration: the
// defaults, decoded over by the TOML file, each vendor section decoded by
// its own package, then every unknown key and every invalid value reported
// with file, line (where known) and key.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/shard"
)

// Collector is one configured vendor section.
type Collector struct {
	Name    string
	Factory collectors.Factory
	Options collectors.Options
}

// Problem is one finding with its place in the file.
type Problem struct {
	File    string
	Line    int // 0 when unknown
	Key     string
	Message string
	Warning bool
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Warning {
		b.WriteString(": warning")
	}
	if p.Key != "" {
		fmt.Fprintf(&b, ": %s", p.Key)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// Problems is a list of findings; as an error it holds at least one that
// is not a warning.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Warnings returns the warnings.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

var coreSections = map[string]bool{
	"state_dir": true, "log_level": true, "log_format": true, "max_catchup": true, "run_timeout": true, "clock_skew_tolerance": true, "shard": true, "filters": true, "anomaly": true, "skyline": true, "graphite": true, "events": true, "hook": true, "compare": true, "admin": true,
	"rum":  true,
	"cost": true,
}

// Load reads and decodes the file at path. It returns the config and every
// problem found; the config is usable only when Problems.Errors() is empty.
// getenv is used to check that secret variables are set.
func Load(path string, getenv func(string) string) (*Config, Problems) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Message: fmt.Sprintf("cannot read config: %v", errors.Unwrap(err))}}
	}
	return Parse(path, data, getenv)
}

// Parse decodes data as if read from file.
func Parse(file string, data []byte, getenv func(string) string) (*Config, Problems) {
	cfg := Default()
	cfg.File = file
	var probs Problems
	add := func(line int, key, msg string, warn bool) {
		probs = append(probs, Problem{File: file, Line: line, Key: key, Message: msg, Warning: warn})
	}
	lines := newLineIndex(data)

	var raw map[string]toml.Primitive
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			add(pe.Position.Line, pe.LastKey, pe.Message, false)
		} else {
			add(0, "", err.Error(), false)
		}
		return nil, probs
	}

	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	// A section whose decoding failed stops at the bad key: the keys after
	// it are left undecoded but are not unknown.
	failed := map[string]bool{}
	decodeFailed := func(name string, err error) {
		failed[name] = true
		key, msg, line := decodeProblem(name, err, lines.keyLine(name))
		add(line, key, msg, false)
	}
	for _, name := range names {
		prim := raw[name]
		if coreSections[name] {
			if err := md.PrimitiveDecode(prim, cfg.coreField(name)); err != nil {
				decodeFailed(name, err)
			}
			continue
		}
		f, ok := collectors.Lookup(name)
		if !ok {
			add(lines.keyLine(name), name, fmt.Sprintf("unknown section or key (known collectors: %s)", strings.Join(collectors.Names(), ", ")), false)
			continue
		}
		opts, err := f.Decode(collectors.NewSection(name, &md, prim))
		if err != nil {
			decodeFailed(name, err)
			continue
		}
		cfg.Collectors = append(cfg.Collectors, Collector{Name: name, Factory: f, Options: opts})
	}
	for _, k := range md.Undecoded() {
		if failed[k[0]] {
			continue
		}
		if !coreSections[k[0]] {
			if _, ok := collectors.Lookup(k[0]); !ok {
				continue // already reported as an unknown section
			}
		}
		msg := "unknown key (check its spelling in config.toml.example)"
		if looksSecret(k[len(k)-1]) {
			msg = "inline secrets are not accepted: put the value in an environment variable and name it with a *_env key (or in a file named by *_file)"
			if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o077 != 0 {
				add(lines.keyLine(k...), k.String(), fmt.Sprintf("this file holds a secret and is readable by others (mode %v)", fi.Mode().Perm()), true)
			}
		}
		add(lines.keyLine(k...), k.String(), msg, false)
	}

	cfg.shareGraphiteWebAuth()
	env := collectors.Env{Prefix: cfg.Graphite.Prefix, StateDir: cfg.StateDir, Getenv: getenv}
	for _, p := range append(cfg.validate(getenv), cfg.checkStartup()...) {
		add(lines.keyLine(strings.Split(p.Key, ".")...), p.Key, p.Message, p.Warning)
	}
	for _, c := range cfg.Collectors {
		for _, p := range c.Options.Validate(env) {
			add(lines.keyLine(strings.Split(p.Key, ".")...), p.Key, p.Message, p.Warning)
		}
		if p := checkSchedule(c); p != nil {
			add(lines.keyLine(c.Name, "schedule"), p.Key, p.Message, false)
		}
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return &cfg, probs
}

// coreField returns the field a core key decodes into, over its default.
func (c *Config) coreField(name string) any {
	switch name {
	case "state_dir":
		return &c.StateDir
	case "log_level":
		return &c.LogLevel
	case "log_format":
		return &c.LogFormat
	case "max_catchup":
		return &c.MaxCatchup
	case "run_timeout":
		return &c.RunTimeout
	case "clock_skew_tolerance":
		return &c.ClockSkewTolerance
	case "shard":
		return &c.Shard
	case "filters":
		return &c.Filters
	case "anomaly":
		return &c.Anomaly
	case "skyline":
		return &c.Skyline
	case "graphite":
		return &c.Graphite
	case "events":
		return &c.Events
	case "hook":
		return &c.Hook
	case "admin":
		return &c.Admin
	case "rum":
		return &c.RUM
	case "cost":
		return &c.Cost
	default:
		return &c.Compare
	}
}

// validate checks the core sections.
func (c *Config) validate(getenv func(string) string) []collectors.Problem {
	var ps []collectors.Problem
	bad := func(key, msg string) { ps = append(ps, collectors.Problem{Key: key, Message: msg}) }
	if c.StateDir == "" {
		bad("state_dir", "must not be empty")
	}
	if _, err := shard.ParseSpec(c.Shard); err != nil {
		bad("shard", err.Error())
	}
	for name, f := range c.Filters {
		if _, ok := collectors.Lookup(name); !ok {
			bad("filters."+name, "not a known collector")
		}
		if _, err := shard.Compile(f.Allow, f.Block); err != nil {
			bad("filters."+name, err.Error())
		}
	}
	if _, err := regexp.Compile(c.Anomaly.Filter); err != nil {
		bad("anomaly.filter", err.Error())
	}
	if c.Anomaly.Threshold <= 0 || c.Anomaly.Threshold > 1 {
		bad("anomaly.threshold", "must be in (0, 1]")
	}
	if c.Anomaly.Confirm < 0 || c.Anomaly.Confirm > 60 {
		bad("anomaly.confirm", "must be 0 to 60 points")
	}
	if err := c.Skyline.Validate(); err != nil {
		bad("skyline", err.Error())
	}
	if c.MaxCatchup <= 0 {
		bad("max_catchup", "must be positive")
	}
	ps = append(ps, c.validateRunTimeout()...)
	if t := c.ClockSkewTolerance.D(); t < time.Second || t > 24*time.Hour {
		bad("clock_skew_tolerance", fmt.Sprintf("%s: must be between 1s and 24h", t))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", fmt.Sprintf("%q is not one of debug, info, warn, error", c.LogLevel))
	}
	ps = append(ps, c.validateCommandKeys(getenv)...)
	if c.Graphite.Prefix == "" {
		bad("graphite.prefix", "must not be empty")
	} else {
		for _, part := range strings.Split(c.Graphite.Prefix, ".") {
			if part == "" || strings.ToLower(part) != part || strings.Trim(part, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
				bad("graphite.prefix", fmt.Sprintf("%q: use dot-separated lower-case [a-z0-9_-] parts", c.Graphite.Prefix))
				break
			}
		}
	}
	if c.Graphite.WebURL != "" {
		if err := checkURL(c.Graphite.WebURL); err != nil {
			bad("graphite.web_url", err.Error())
		}
	}
	if c.Graphite.QueueSize <= 0 {
		bad("graphite.queue_size", "must be positive")
	}
	if c.Graphite.WriteTimeout <= 0 {
		bad("graphite.write_timeout", "must be positive")
	}
	if c.Graphite.SpoolMaxBytes < 0 {
		bad("graphite.spool_max_bytes", "must not be negative (0 disables the spool)")
	}
	if !schema.ValidTagMode(c.Graphite.Tags) {
		bad("graphite.tags", fmt.Sprintf("%q is not one of off, both, only", c.Graphite.Tags))
	}
	for i, u := range c.Events.GraphiteWebURLs {
		if err := checkURL(u); err != nil {
			bad(fmt.Sprintf("events.graphite_web_urls[%d]", i), err.Error())
		}
	}
	secretEnv := collectors.Env{Getenv: getenv}
	if c.Events.PasswordEnv != "" {
		if err := secretEnv.CheckSecretEnv(c.Events.PasswordEnv); err != nil {
			bad("events.password_env", err.Error())
		}
	}
	if c.Hook.Listen != "" {
		if c.Hook.SecretEnv == "" {
			bad("hook.secret_env", fmt.Sprintf("environment variable %q is not set; the hook never runs unauthenticated", c.Hook.SecretEnv))
		} else if err := secretEnv.CheckSecretEnv(c.Hook.SecretEnv); err != nil {
			bad("hook.secret_env", err.Error()+"; the hook never runs unauthenticated")
		}
	}
	if c.Hook.MaxBodyBytes <= 0 {
		bad("hook.max_body_bytes", "must be positive")
	}
	ps = append(ps, c.Hook.limitProblems()...)
	ps = append(ps, c.adminProblems()...)
	ps = append(ps, c.rumProblems()...)
	ps = append(ps, c.costProblems()...)
	return ps
}

// looksSecret reports key names that would hold a credential inline.
func looksSecret(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "_env") || strings.HasSuffix(k, "_file") || k == "access_key_id" {
		return false
	}
	for _, w := range []string{"token", "secret", "password", "apikey", "api_key", "client_secret"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		// Not quoted: an unparsable URL may still hold a password.
		return errors.New("not a URL (cannot be parsed)")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", collectors.RedactURL(u))
	}
	if u.User != nil {
		return errors.New("credentials in the URL are not allowed: use username and password_env")
	}
	return nil
}

// lineIndex finds the line of a key by scanning the file: BurntSushi/toml
// does not expose key positions, and "line where known" is worth a scan.
type lineIndex struct {
	lines []string
}

func newLineIndex(data []byte) *lineIndex {
	var li lineIndex
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		li.lines = append(li.lines, sc.Text())
	}
	return &li
}

// keyLine returns the 1-based line of key (table path then key name), or
// 0. Array indexes in the key ("service[0]") are ignored.
func (li *lineIndex) keyLine(key ...string) int {
	if len(key) == 0 {
		return 0
	}
	clean := make([]string, len(key))
	for i, k := range key {
		if j := strings.IndexByte(k, '['); j >= 0 {
			k = k[:j]
		}
		clean[i] = k
	}
	table := ""
	for n := len(clean); n > 0; n-- {
		// Longest table prefix that exists as a header, then the key in it.
		want := strings.Join(clean[:n], ".")
		for i, l := range li.lines {
			t := strings.TrimSpace(l)
			if t == "["+want+"]" || t == "[["+want+"]]" {
				if n == len(clean) {
					return i + 1
				}
				table = want
				rest := clean[n]
				for j := i + 1; j < len(li.lines); j++ {
					u := strings.TrimSpace(li.lines[j])
					if strings.HasPrefix(u, "[") {
						break
					}
					if keyIs(u, rest) {
						return j + 1
					}
				}
			}
		}
		if table != "" {
			break
		}
	}
	// Top-level key, or dotted key written inline.
	for i, l := range li.lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			break
		}
		if keyIs(t, strings.Join(clean, ".")) || keyIs(t, clean[0]) {
			return i + 1
		}
	}
	return 0
}

func keyIs(line, key string) bool {
	if !strings.HasPrefix(line, key) {
		return false
	}
	rest := strings.TrimLeft(line[len(key):], " \t")
	return strings.HasPrefix(rest, "=")
}
