package steering

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Name is the config section. It is also a reserved namespace of the
// schema (schema.NamespaceSteering): the weights live beside the provider
// tree, never in it.
const Name = schema.NamespaceSteering

// The kinds of source.
const (
	KindFile    = "file"
	KindRoute53 = "route53"
	KindHTTP    = "http"
)

// Options is the [steering] section.
type Options struct {
	// Cron is the daemon's schedule. By default, "@every 1m".
	Cron string `toml:"schedule"`
	// Sources are the [[steering.source]] entries, one per service.
	Sources []Source `toml:"source"`
	// Common holds request_timeout: it bounds one source's read (HTTP
	// request, Route 53 call with the SDK's retries).
	collectors.Common
}

// Source is one [[steering.source]]: where one service's weights are.
type Source struct {
	Service string `toml:"service"`
	Kind    string `toml:"kind"`
	// Path is the JSON file of kind "file".
	Path string `toml:"path"`
	// URL serves the same JSON (kind "http"); TokenEnv or TokenFile hold an
	// optional bearer token.
	URL       string `toml:"url"`
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	// Route 53 (kind "route53"): the weighted records named RecordName of
	// type RecordType in the hosted zone; Providers maps each record's
	// SetIdentifier to a provider. Records of other set identifiers are
	// ignored (and logged).
	HostedZoneID string            `toml:"hosted_zone_id"`
	RecordName   string            `toml:"record_name"`
	RecordType   string            `toml:"record_type"`
	Providers    map[string]string `toml:"providers"`
	// Credentials as in [cloudfront]: the SDK's default chain (with
	// Profile), or AccessKeyID with SecretKeyEnv / SecretKeyFile.
	EndpointURL   string `toml:"endpoint_url"`
	Region        string `toml:"region"`
	Profile       string `toml:"profile"`
	AccessKeyID   string `toml:"access_key_id"`
	SecretKeyEnv  string `toml:"secret_key_env"`
	SecretKeyFile string `toml:"secret_key_file"`
}

// DefaultOptions returns the defaults the section is decoded over.
func DefaultOptions() *Options { return &Options{Cron: "@every 1m"} }

// Schedule implements collectors.Options.
func (o *Options) Schedule() string { return o.Cron }

// Route 53 is global; its API is signed for us-east-1.
const defaultRegion = "us-east-1"

var (
	zoneIDRe = regexp.MustCompile(`^(/hostedzone/)?[A-Z0-9]{1,32}$`)
	rrTypes  = map[string]bool{"A": true, "AAAA": true, "CNAME": true, "TXT": true, "MX": true, "SRV": true, "NS": true, "PTR": true, "SPF": true, "CAA": true, "DS": true, "NAPTR": true, "HTTPS": true, "SVCB": true}
)

// Validate implements collectors.Options: everything run would refuse,
// before any network (files must exist and be readable).
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(warn bool, key, format string, a ...any) {
		ps = append(ps, collectors.Problem{Key: Name + "." + key, Message: fmt.Sprintf(format, a...), Warning: warn})
	}
	ps = append(ps, o.CommonProblems(Name)...)
	if len(o.Sources) == 0 {
		add(false, "source", "at least one [[steering.source]] is needed")
	}
	seen := map[string]int{}
	for i, s := range o.Sources {
		k := fmt.Sprintf("source[%d]", i)
		if strings.TrimSpace(s.Service) == "" {
			add(false, k+".service", "must be set")
		} else if j, dup := seen[schema.Sanitize(s.Service)]; dup {
			add(false, k+".service", "%q gives the same path as source[%d]: one source per service", s.Service, j)
		} else {
			seen[schema.Sanitize(s.Service)] = i
		}
		switch s.Kind {
		case KindFile:
			if s.Path == "" {
				add(false, k+".path", "must be set for kind \"file\"")
			} else if err := collectors.Readable(s.Path); err != nil {
				add(false, k+".path", "%v", err)
			} else if data, err := os.ReadFile(s.Path); err == nil {
				if _, err := ParseWeights(data); err != nil {
					add(false, k+".path", "%s: %v", s.Path, err)
				}
			}
		case KindHTTP:
			if err := collectors.CheckURL(s.URL); err != nil {
				add(false, k+".url", "%v", err)
			}
			switch {
			case s.TokenFile != "":
				if warn, err := collectors.CheckSecretFile(s.TokenFile); err != nil {
					add(false, k+".token_file", "%v", err)
				} else if warn != "" {
					add(true, k+".token_file", "%s", warn)
				}
			case s.TokenEnv != "" && env.CheckSecretEnv(s.TokenEnv) != nil:
				add(false, k+".token_env", "%v", env.CheckSecretEnv(s.TokenEnv))
			}
		case KindRoute53:
			s.route53Problems(env, k, add)
		case "":
			add(false, k+".kind", "must be set: \"file\", \"route53\" or \"http\"")
		default:
			add(false, k+".kind", "%q is not one of \"file\", \"route53\", \"http\"", s.Kind)
		}
		if s.Kind != KindRoute53 && (s.HostedZoneID != "" || s.RecordName != "" || len(s.Providers) > 0) {
			add(false, k, "hosted_zone_id, record_name and providers belong to kind \"route53\"")
		}
	}
	return ps
}

func (s Source) route53Problems(env collectors.Env, k string, add func(bool, string, string, ...any)) {
	if !zoneIDRe.MatchString(s.HostedZoneID) {
		add(false, k+".hosted_zone_id", "%q is not a Route 53 hosted zone id (Z…, upper-case letters and digits)", s.HostedZoneID)
	}
	if strings.TrimSpace(s.RecordName) == "" {
		add(false, k+".record_name", "must be set (e.g. \"www.example.com.\")")
	}
	if !rrTypes[s.RecordType] {
		add(false, k+".record_type", "%q is not a record type (A, AAAA, CNAME, …)", s.RecordType)
	}
	if len(s.Providers) == 0 {
		add(false, k+".providers", "map each record's SetIdentifier to a provider: providers = { \"fastly-set\" = \"fastly\" }")
	}
	provs := map[string]string{}
	for id, p := range s.Providers {
		if err := checkEntry(p, 0); err != nil {
			add(false, k+".providers", "%q: %v", id, err)
			continue
		}
		if other, dup := provs[schema.Sanitize(p)]; dup {
			add(false, k+".providers", "set identifiers %q and %q both name provider %q: their weights would be one share", other, id, p)
		}
		provs[schema.Sanitize(p)] = id
	}
	if s.EndpointURL != "" {
		if err := collectors.CheckURL(s.EndpointURL); err != nil {
			add(false, k+".endpoint_url", "%v", err)
		}
	}
	if s.AccessKeyID != "" {
		switch {
		case s.SecretKeyFile != "":
			if warn, err := collectors.CheckSecretFile(s.SecretKeyFile); err != nil {
				add(false, k+".secret_key_file", "%v", err)
			} else if warn != "" {
				add(true, k+".secret_key_file", "%s", warn)
			}
		case s.SecretKeyEnv == "":
			add(false, k+".secret_key_env", "access_key_id is set: set secret_key_env (an environment variable name) or secret_key_file")
		case env.CheckSecretEnv(s.SecretKeyEnv) != nil:
			add(false, k+".secret_key_env", "%v", env.CheckSecretEnv(s.SecretKeyEnv))
		}
	} else if s.SecretKeyEnv != "" || s.SecretKeyFile != "" {
		add(false, k+".access_key_id", "secret_key_env/secret_key_file need access_key_id (or drop them to use the default credential chain)")
	}
}
