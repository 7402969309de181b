package gcp

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Backend is one configured url map.
type Backend struct {
	// ID is the url map's name as Cloud Monitoring labels it
	// (resource label url_map_name of https_lb_rule).
	ID string `toml:"id"`
	// Name is the service name in Graphite paths; by default, the ID.
	Name string `toml:"name"`
	// path, when set, replaces the name in paths (a discovered url map
	// whose name gives another's path, see collectors.PathNamer).
	path string
}

func (b Backend) label() string {
	if b.Name != "" {
		return b.Name
	}
	return b.ID
}

func (b Backend) pathName() string {
	if b.path != "" {
		return b.path
	}
	return b.label()
}

// Options is the [gcp] section.
type Options struct {
	// Project is the project id holding the load balancers.
	Project string `toml:"project"`
	// CredentialsFile is a service-account JSON key; empty means
	// Application Default Credentials.
	CredentialsFile string `toml:"credentials_file"`
	// APIURL is the Cloud Monitoring API base; by default,
	// https://monitoring.googleapis.com.
	APIURL string `toml:"api_url"`
	// Backends lists the url maps to collect ([[gcp.backend]]); none means
	// every url map with traffic in the project.
	Backends []Backend `toml:"backend"`
	// Cron is the schedule; by default, "@every 1m".
	Cron string `toml:"schedule"`
	// WindowKeys: by default, delay 5m, overlap 10m, lookback 1h (load
	// balancer metrics are visible up to a few minutes after sampling).
	collectors.WindowKeys
	collectors.Common
}

// DefaultAPIURL is Cloud Monitoring's API base.
const DefaultAPIURL = "https://monitoring.googleapis.com"

func defaultOptions() *Options {
	return &Options{
		APIURL: DefaultAPIURL,
		Cron:   "@every 1m",
		WindowKeys: collectors.WindowKeys{
			Delay:    collectors.Duration(5 * time.Minute),
			Overlap:  collectors.Duration(10 * time.Minute),
			Lookback: collectors.Duration(time.Hour),
		},
	}
}

// Schedule returns the cron spec.
func (o *Options) Schedule() string { return o.Cron }

// projectRE is a project id (6–30 lower-case letters, digits, hyphens)
// or a legacy domain-scoped one ("example.com:my-project").
var projectRE = regexp.MustCompile(`^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// Validate reports every problem with the section.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(warn bool, key, format string, args ...any) {
		ps = append(ps, collectors.Problem{Key: "gcp." + key, Message: fmt.Sprintf(format, args...), Warning: warn})
	}
	ps = append(ps, o.CommonProblems("gcp")...)
	ps = append(ps, o.WindowProblems("gcp", retention)...)
	if err := collectors.CheckURL(o.APIURL); err != nil {
		add(false, "api_url", "%v", err)
	}
	switch p := strings.TrimSpace(o.Project); {
	case p == "":
		add(false, "project", "set the project id holding the load balancers")
	case !projectRE.MatchString(p):
		add(false, "project", "%q is not a project id (lower-case letters, digits and hyphens, 6 to 30 of them)", p)
	}
	if o.CredentialsFile != "" {
		if warn, err := collectors.CheckSecretFile(o.CredentialsFile); err != nil {
			add(false, "credentials_file", "%v", err)
		} else {
			if warn != "" {
				add(true, "credentials_file", "%s", warn)
			}
			if b, err := os.ReadFile(o.CredentialsFile); err != nil {
				add(false, "credentials_file", "cannot read %s: %v", o.CredentialsFile, err)
			} else if _, err := parseKeyFile(b); err != nil {
				add(false, "credentials_file", "%s: %v", o.CredentialsFile, err)
			}
		}
	} else if f := env.Lookup("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
		if err := collectors.Readable(f); err != nil {
			add(false, "credentials_file", "not set, and GOOGLE_APPLICATION_CREDENTIALS names a file that fails: %v", err)
		}
	} else if !adcWellKnownFile(env) {
		add(true, "credentials_file", "not set: Application Default Credentials will come from the metadata server (on Google Cloud) or fail")
	}
	ids := map[string]int{}
	for i, b := range o.Backends {
		key := fmt.Sprintf("backend[%d]", i)
		if strings.TrimSpace(b.ID) == "" {
			add(false, key+".id", "url map name is empty")
			continue
		}
		if strings.ContainsAny(b.ID, " \t\r\n\"\\") {
			add(false, key+".id", "url map name %q contains spaces or quotes", b.ID)
		}
		if j, dup := ids[b.ID]; dup {
			add(false, key+".id", "duplicate url map %q (also backend[%d])", b.ID, j)
		}
		ids[b.ID] = i
	}
	names := make([]string, len(o.Backends))
	for i, b := range o.Backends {
		names[i] = b.label()
	}
	ps = append(ps, collectors.NameClashes(names, func(i int) string { return fmt.Sprintf("gcp.backend[%d].name", i) })...)
	return ps
}

// adcWellKnownFile reports whether gcloud's Application Default
// Credentials file exists for this user.
func adcWellKnownFile(env collectors.Env) bool {
	dir := env.Lookup("CLOUDSDK_CONFIG")
	if dir == "" {
		home := env.Lookup("HOME")
		if home == "" {
			return false
		}
		dir = filepath.Join(home, ".config", "gcloud")
	}
	_, err := os.Stat(filepath.Join(dir, "application_default_credentials.json"))
	return err == nil
}
