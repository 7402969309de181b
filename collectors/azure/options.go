package azure

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Profile is one configured Front Door profile ([[azure.profile]]).
type Profile struct {
	// ResourceID is the profile's ARM id:
	// /subscriptions/…/resourceGroups/…/providers/Microsoft.Cdn/profiles/….
	ResourceID string `toml:"resource_id"`
	// Name is the service name in Graphite paths; by default, the
	// profile's name (the last element of ResourceID).
	Name string `toml:"name"`
	// Endpoint restricts the figures to one endpoint of the profile
	// (its host name, "www-abc123.z01.azurefd.net"); by default, the
	// whole profile.
	Endpoint string `toml:"endpoint"`
	// ByRegion adds one location per ClientRegion beside "all".
	ByRegion bool `toml:"by_region"`
}

// label is the name filters and --service match and paths use.
func (p Profile) label() string {
	if p.Name != "" {
		return p.Name
	}
	return p.ResourceID[strings.LastIndex(p.ResourceID, "/")+1:]
}

// Options is the [azure] section.
type Options struct {
	// TenantID is the Microsoft Entra tenant of the app registration.
	TenantID string `toml:"tenant_id"`
	// ClientID is the app registration's (service principal's) id; not a secret.
	ClientID string `toml:"client_id"`
	// ClientSecretEnv names the environment variable holding the client
	// secret; by default, AZURE_CLIENT_SECRET.
	ClientSecretEnv string `toml:"client_secret_env"`
	// ClientSecretFile is a file holding the client secret; it wins over
	// ClientSecretEnv.
	ClientSecretFile string `toml:"client_secret_file"`
	// TokenURL is the OAuth 2 token endpoint; by default,
	// https://login.microsoftonline.com/<tenant_id>/oauth2/v2.0/token.
	TokenURL string `toml:"token_url"`
	// APIURL is the Azure Resource Manager base; by default,
	// https://management.azure.com.
	APIURL string `toml:"api_url"`
	// Profiles lists the profiles to collect.
	Profiles []Profile `toml:"profile"`
	// Cron is the schedule; by default, "@every 1m".
	Cron string `toml:"schedule"`
	// WindowKeys: by default, delay 5m, overlap 10m, lookback 1h (Azure
	// Monitor publishes Front Door's minutes up to 3 minutes late).
	collectors.WindowKeys
	// Common holds request_timeout: it bounds one metrics or token call,
	// retries and Retry-After waits included.
	collectors.Common
}

const (
	defaultAPIURL    = "https://management.azure.com"
	defaultSecretEnv = "AZURE_CLIENT_SECRET"
	loginHost        = "https://login.microsoftonline.com"
)

// DefaultTokenURL is the Microsoft identity platform's v2 token endpoint of
// tenant.
func DefaultTokenURL(tenant string) string {
	return loginHost + "/" + strings.TrimSpace(tenant) + "/oauth2/v2.0/token"
}

func defaultOptions() *Options {
	return &Options{
		APIURL:          defaultAPIURL,
		ClientSecretEnv: defaultSecretEnv,
		Cron:            "@every 1m",
		WindowKeys: collectors.WindowKeys{
			Delay:    collectors.Duration(5 * time.Minute),
			Overlap:  collectors.Duration(10 * time.Minute),
			Lookback: collectors.Duration(time.Hour),
		},
	}
}

func (o *Options) tokenURL() string {
	if o.TokenURL != "" {
		return o.TokenURL
	}
	return DefaultTokenURL(o.TenantID)
}

// Schedule returns the cron spec.
func (o *Options) Schedule() string { return o.Cron }

var (
	// resourceIDPattern is a Front Door Standard/Premium (or Azure CDN)
	// profile id. Its parts go into a URL path and must not add levels.
	resourceIDPattern = regexp.MustCompile(`(?i)^/subscriptions/[0-9a-f-]{1,64}/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.Cdn/profiles/[-\w]{1,260}$`)
	// tenantPattern is a tenant id (a GUID) or a verified domain name.
	tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$`)
	// endpointPattern is a host name: it is quoted inside an OData
	// $filter, so no quote or space may reach it.
	endpointPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$`)
)

// Validate reports every problem with the section.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(warn bool, key, format string, args ...any) {
		ps = append(ps, collectors.Problem{Key: "azure." + key, Message: fmt.Sprintf(format, args...), Warning: warn})
	}
	ps = append(ps, o.CommonProblems(provider)...)
	ps = append(ps, o.WindowProblems(provider, retention)...)
	if d := time.Duration(o.Delay) + time.Duration(o.Overlap); d < 3*time.Minute {
		add(true, "delay", "delay + overlap is %v: Azure Monitor publishes a minute up to 3 minutes late, and a minute read empty before then is not read again", d)
	}
	if err := collectors.CheckURL(o.APIURL); err != nil {
		add(false, "api_url", "%v", err)
	}
	if o.TokenURL != "" {
		if err := collectors.CheckURL(o.TokenURL); err != nil {
			add(false, "token_url", "%v", err)
		}
	}
	switch t := strings.TrimSpace(o.TenantID); {
	case t == "":
		add(false, "tenant_id", "set the Microsoft Entra tenant id of the app registration")
	case !tenantPattern.MatchString(t):
		add(false, "tenant_id", "%q is not a tenant id (a GUID or a domain name)", o.TenantID)
	}
	if strings.TrimSpace(o.ClientID) == "" {
		add(false, "client_id", "set the app registration's client id")
	}
	switch {
	case o.ClientSecretFile != "":
		if warn, err := collectors.CheckSecretFile(o.ClientSecretFile); err != nil {
			add(false, "client_secret_file", "%v", err)
		} else if warn != "" {
			add(true, "client_secret_file", "%s", warn)
		}
	case o.ClientSecretEnv == "":
		add(false, "client_secret_env", "set client_secret_env (an environment variable name) or client_secret_file")
	case env.CheckSecretEnv(o.ClientSecretEnv) != nil:
		add(false, "client_secret_env", "%v", env.CheckSecretEnv(o.ClientSecretEnv))
	}
	if len(o.Profiles) == 0 {
		add(false, "profile", "list at least one profile ([[azure.profile]] resource_id, name)")
	}
	seen := map[string]int{}
	names := make([]string, len(o.Profiles))
	for i, p := range o.Profiles {
		key := fmt.Sprintf("profile[%d]", i)
		if !resourceIDPattern.MatchString(p.ResourceID) {
			add(false, key+".resource_id", "%q is not a profile id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Cdn/profiles/<name>)", p.ResourceID)
			continue
		}
		if p.Endpoint != "" && !endpointPattern.MatchString(p.Endpoint) {
			add(false, key+".endpoint", "%q is not an endpoint host name", p.Endpoint)
		}
		k := strings.ToLower(p.ResourceID) + " " + strings.ToLower(p.Endpoint)
		if j, dup := seen[k]; dup {
			add(false, key+".resource_id", "profile %s (endpoint %q) is listed twice (also profile[%d])", p.ResourceID, p.Endpoint, j)
		}
		seen[k] = i
		names[i] = p.label()
	}
	ps = append(ps, collectors.NameClashes(names, func(i int) string { return fmt.Sprintf("azure.profile[%d].name", i) })...)
	return ps
}
