package edgecast

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Platforms maps the platform names accepted in `platforms` to EdgeCast's
// media type ids (the {platform} path segment of the real-time API).
var Platforms = map[string]int{
	"flash":          2,
	"http_large":     3,
	"http_large_ssl": 7,
	"http_small":     8,
	"http_small_ssl": 9,
	"adn":            14,
	"adn_ssl":        15,
}

// DefaultTokenURL is the Edgio identity service's token endpoint (the one
// Edgio's own Go SDK calls for client credentials).
const DefaultTokenURL = "https://id.vdms.io/connect/token"

// Options is the [edgecast] section.
type Options struct {
	// APIURL is the API base; by default, https://api.edgecast.com.
	APIURL string `toml:"api_url"`
	// Account is the customer account number (AN), e.g. "0001".
	Account string `toml:"account"`
	// TokenEnv names the environment variable holding the REST API token
	// (sent as "Authorization: TOK:<token>"); by default, EDGECAST_API_TOKEN.
	TokenEnv string `toml:"token_env"`
	// TokenFile is a file holding the token; it wins over TokenEnv.
	TokenFile string `toml:"token_file"`
	// OAuth switches to OAuth 2 client credentials ([edgecast.oauth]).
	OAuth *OAuth `toml:"oauth"`
	// PlatformNames are the platforms to read, each one service in paths;
	// by default, http_large, http_small and adn.
	PlatformNames []string `toml:"platforms"`
	// Cron is the schedule; by default, "@every 1m". Every run reads one
	// snapshot, so run once a minute.
	Cron string `toml:"schedule"`
	collectors.Common
}

// OAuth is [edgecast.oauth]: client credentials for a bearer token.
type OAuth struct {
	// TokenURL is the token endpoint; by default, DefaultTokenURL.
	TokenURL string `toml:"token_url"`
	// ClientID identifies the API client (not a secret).
	ClientID string `toml:"client_id"`
	// ClientSecretEnv names the environment variable holding the secret.
	ClientSecretEnv string `toml:"client_secret_env"`
	// ClientSecretFile is a file holding the secret; it wins over the env.
	ClientSecretFile string `toml:"client_secret_file"`
	// Scopes are the requested scopes (space-joined in the request).
	Scopes []string `toml:"scopes"`
}

func defaults() *Options {
	return &Options{
		APIURL:        "https://api.edgecast.com",
		TokenEnv:      "EDGECAST_API_TOKEN",
		PlatformNames: []string{"http_large", "http_small", "adn"},
		Cron:          "@every 1m",
	}
}

// Schedule implements collectors.Options.
func (o *Options) Schedule() string { return o.Cron }

// Validate implements collectors.Options.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(warn bool, key, format string, args ...any) {
		ps = append(ps, collectors.Problem{Key: "edgecast." + key, Message: fmt.Sprintf(format, args...), Warning: warn})
	}
	ps = append(ps, collectors.Problem{Key: "edgecast", Warning: true,
		Message: "EdgeCast/Edgio shut its platform down in January 2025: this collector is kept for archives and for successor endpoints that serve the same real-time statistics API (set api_url)"})
	ps = append(ps, o.CommonProblems("edgecast")...)
	if err := collectors.CheckURL(o.APIURL); err != nil {
		add(false, "api_url", "%v", err)
	}
	if a := strings.TrimSpace(o.Account); a == "" {
		add(false, "account", "set the customer account number (AN)")
	} else if strings.ContainsAny(a, "/?#% \t") {
		add(false, "account", "%q is not an account number", o.Account)
	}
	if o.OAuth != nil {
		if o.TokenFile != "" {
			add(true, "token_file", "ignored: [edgecast.oauth] is configured")
		}
		if o.OAuth.TokenURL != "" {
			if err := collectors.CheckURL(o.OAuth.TokenURL); err != nil {
				add(false, "oauth.token_url", "%v", err)
			}
		}
		if strings.TrimSpace(o.OAuth.ClientID) == "" {
			add(false, "oauth.client_id", "set the OAuth client id")
		}
		switch {
		case o.OAuth.ClientSecretFile != "":
			if warn, err := collectors.CheckSecretFile(o.OAuth.ClientSecretFile); err != nil {
				add(false, "oauth.client_secret_file", "%v", err)
			} else if warn != "" {
				add(true, "oauth.client_secret_file", "%s", warn)
			}
		case o.OAuth.ClientSecretEnv == "":
			add(false, "oauth.client_secret_env", "set client_secret_env (an environment variable name) or client_secret_file")
		case env.CheckSecretEnv(o.OAuth.ClientSecretEnv) != nil:
			add(false, "oauth.client_secret_env", "%v", env.CheckSecretEnv(o.OAuth.ClientSecretEnv))
		}
	} else {
		switch {
		case o.TokenFile != "":
			if warn, err := collectors.CheckSecretFile(o.TokenFile); err != nil {
				add(false, "token_file", "%v", err)
			} else if warn != "" {
				add(true, "token_file", "%s", warn)
			}
		case o.TokenEnv == "":
			add(false, "token_env", "set token_env (an environment variable name), token_file or [edgecast.oauth]")
		case env.CheckSecretEnv(o.TokenEnv) != nil:
			add(false, "token_env", "%v", env.CheckSecretEnv(o.TokenEnv))
		}
	}
	if len(o.PlatformNames) == 0 {
		add(false, "platforms", "list at least one platform (%s)", strings.Join(platformNames(), ", "))
	}
	seen := map[string]int{}
	for i, p := range o.PlatformNames {
		key := fmt.Sprintf("platforms[%d]", i)
		if _, ok := Platforms[p]; !ok {
			add(false, key, "unknown platform %q (one of %s)", p, strings.Join(platformNames(), ", "))
			continue
		}
		if j, dup := seen[p]; dup {
			add(false, key, "duplicate platform %q (also platforms[%d])", p, j)
		}
		seen[p] = i
	}
	return ps
}

func platformNames() []string {
	names := make([]string, 0, len(Platforms))
	for n := range Platforms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// platform is one configured platform: its path id and its service name.
type platform struct {
	name string
	id   int
}

func (o *Options) platforms() []platform {
	var ps []platform
	for _, n := range o.PlatformNames {
		if id, ok := Platforms[n]; ok && !slices.ContainsFunc(ps, func(p platform) bool { return p.name == n }) {
			ps = append(ps, platform{name: schema.Sanitize(n), id: id})
		}
	}
	return ps
}
