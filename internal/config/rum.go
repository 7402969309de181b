package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// RUM is the [rum] section: the daemon's real-user timing endpoint
// (internal/rum). Everything a beacon holds is attacker-controlled, so
// every dimension it may name is bounded here.
type RUM struct {
	// Listen is the address of POST <path> and GET /rum.js; empty
	// disables them.
	Listen string `toml:"listen"`
	// Path is where beacons are posted (default /rum).
	Path string `toml:"path"`
	// AllowedOrigins are the page origins ("https://www.example.com")
	// whose beacons are accepted (CORS); a request from any other origin
	// is refused.
	AllowedOrigins []string `toml:"allowed_origins"`
	// MaxBodyBytes bounds one beacon body (default 64 KiB).
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// MaxEntries bounds the entries of one beacon (default 100); the rest
	// are dropped and counted.
	MaxEntries int `toml:"max_entries"`
	// MaxBeaconsPerSecond bounds the beacons of one client IP per second
	// (default 50).
	MaxBeaconsPerSecond int `toml:"max_beacons_per_second"`
	// MaxPOPs bounds the distinct POP values kept per provider (default
	// 300); the rest become "other".
	MaxPOPs int `toml:"max_pops"`
	// MaxConnections bounds the connections open at once.
	MaxConnections int `toml:"max_connections"`
	// SampleRate is the share of page views /rum.js reports (0–1).
	SampleRate float64 `toml:"sample_rate"`
	// CountryHeader names a request header set by the front proxy with
	// the client's ISO 3166 alpha-2 country; empty: no per-country series.
	CountryHeader string `toml:"country_header"`
	// Providers is the allow-list of provider names a beacon may name;
	// any other name is counted as "other".
	Providers []string `toml:"providers"`
	// Services is the allow-list of services (a page's data-service);
	// a beacon without one is filed under the first, any other name
	// under "other".
	Services []string `toml:"services"`
	// NEL maps Network Error Logging reports to providers.
	NEL RUMNEL `toml:"nel"`
}

// RUMNEL is [rum.nel]: a NEL report names a URL, never a CDN, so its host
// is looked up in Hosts (host → provider).
type RUMNEL struct {
	Hosts map[string]string `toml:"hosts"`
}

// Defaults of [rum].
const (
	DefaultRUMPath         = "/rum"
	DefaultRUMMaxBody      = 64 << 10
	DefaultRUMMaxEntries   = 100
	DefaultRUMMaxPerSecond = 50
	DefaultRUMMaxPOPs      = 300
)

func defaultRUM() RUM {
	return RUM{Path: DefaultRUMPath, MaxBodyBytes: DefaultRUMMaxBody, MaxEntries: DefaultRUMMaxEntries,
		MaxBeaconsPerSecond: DefaultRUMMaxPerSecond, MaxPOPs: DefaultRUMMaxPOPs, MaxConnections: 64,
		SampleRate: 1, Services: []string{"www"}}
}

// rumProblems checks [rum]; with listen empty only the values that would
// be wrong anyway.
func (c *Config) rumProblems() []collectors.Problem {
	r := c.RUM
	var ps []collectors.Problem
	bad := func(key, msg string) { ps = append(ps, collectors.Problem{Key: "rum." + key, Message: msg}) }
	if r.Listen == "" {
		return nil
	}
	if err := checkHostPort(r.Listen); err != nil {
		bad("listen", err.Error())
	}
	if c.Hook.Listen != "" && sameListenAddr(r.Listen, c.Hook.Listen) {
		bad("listen", fmt.Sprintf("%q is also hook.listen: give each its own port", r.Listen))
	}
	if c.Admin.Listen != "" && sameListenAddr(r.Listen, c.Admin.Listen) {
		bad("listen", fmt.Sprintf("%q is also admin.listen: give each its own port", r.Listen))
	}
	if !strings.HasPrefix(r.Path, "/") || r.Path == "/rum.js" || strings.ContainsAny(r.Path, " ?#") {
		bad("path", fmt.Sprintf("%q: must start with / and not be /rum.js", r.Path))
	}
	if len(r.AllowedOrigins) == 0 {
		bad("allowed_origins", "must list the page origins whose beacons are accepted")
	}
	for i, o := range r.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			bad(fmt.Sprintf("allowed_origins[%d]", i), err.Error())
		}
	}
	if r.MaxBodyBytes <= 0 || r.MaxBodyBytes > 1<<20 {
		bad("max_body_bytes", "must be between 1 and 1048576")
	}
	if r.MaxEntries <= 0 || r.MaxEntries > 1000 {
		bad("max_entries", "must be between 1 and 1000")
	}
	if r.MaxBeaconsPerSecond <= 0 {
		bad("max_beacons_per_second", "must be positive")
	}
	if r.MaxPOPs <= 0 || r.MaxPOPs > 10000 {
		bad("max_pops", "must be between 1 and 10000")
	}
	if r.MaxConnections <= 0 {
		bad("max_connections", "must be positive")
	}
	if r.SampleRate <= 0 || r.SampleRate > 1 {
		bad("sample_rate", "must be in (0, 1]")
	}
	if len(r.Providers) == 0 {
		bad("providers", "must list the provider names beacons may name")
	}
	names := func(key string, list []string) {
		for i, p := range list {
			if p == "" || schema.Sanitize(p) != p || p == "other" || schema.IsNamespace(p) {
				bad(fmt.Sprintf("%s[%d]", key, i), fmt.Sprintf("%q: use a lower-case [a-z0-9_-] name that is not \"other\" or a reserved namespace", p))
			}
		}
	}
	names("providers", r.Providers)
	if len(r.Services) == 0 {
		bad("services", "must list at least one service")
	}
	names("services", r.Services)
	for host, prov := range r.NEL.Hosts {
		if host == "" || strings.ToLower(host) != host || strings.ContainsAny(host, "/: ") {
			bad("nel.hosts", fmt.Sprintf("%q: use a lower-case host name", host))
		}
		found := false
		for _, p := range r.Providers {
			found = found || p == prov
		}
		if !found {
			bad("nel.hosts", fmt.Sprintf("%q → %q: the provider is not in rum.providers", host, prov))
		}
	}
	return ps
}

// checkOrigin accepts a serialized origin: scheme://host[:port], no path.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin (scheme://host[:port])", o)
	}
	if strings.HasSuffix(o, "/") {
		return fmt.Errorf("%q: an origin has no trailing slash", o)
	}
	// The Origin header is compared as sent: a browser writes it in lower
	// case and without the scheme's default port.
	if strings.ToLower(o) != o {
		return fmt.Errorf("%q: write the origin in lower case, as a browser sends it", o)
	}
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		return fmt.Errorf("%q: drop the default port, a browser sends the origin without it", o)
	}
	return nil
}
