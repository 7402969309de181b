package cloudfront

import (
	"fmt"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Distribution is one configured CloudFront distribution.
type Distribution struct {
	// ID is the distribution id (E1ABCDEF2GHIJK).
	ID string `toml:"id"`
	// Name is the service name in Graphite paths; by default, the ID.
	Name string `toml:"name"`
}

func (d Distribution) label() string {
	if d.Name != "" {
		return d.Name
	}
	return d.ID
}

// Options is the [cloudfront] section.
//
// Credentials come from the SDK's default chain (environment, shared
// config and credentials files with Profile, SSO, web identity, container
// and instance roles) unless AccessKeyID is set: then the secret access key
// is read from SecretKeyEnv or SecretKeyFile (static credentials, used by
// the simulator and for plain IAM users).
type Options struct {
	// EndpointURL overrides the CloudWatch endpoint (tests, simulator).
	EndpointURL string `toml:"endpoint_url"`
	// Region is the CloudWatch region; by default, and for CloudFront
	// always, us-east-1.
	Region string `toml:"region"`
	// Profile selects a shared-config profile for the default chain.
	Profile string `toml:"profile"`
	// AccessKeyID switches to static credentials. It is an identifier,
	// not a secret; the secret comes from SecretKeyEnv or SecretKeyFile.
	AccessKeyID string `toml:"access_key_id"`
	// SecretKeyEnv names the environment variable holding the secret
	// access key that goes with AccessKeyID.
	SecretKeyEnv string `toml:"secret_key_env"`
	// SecretKeyFile is a file holding that secret; it wins over SecretKeyEnv.
	SecretKeyFile string `toml:"secret_key_file"`
	// Distributions lists the distributions ([[cloudfront.distribution]]).
	Distributions []Distribution `toml:"distribution"`
	// Cron is the schedule; by default, "@every 1m".
	Cron string `toml:"schedule"`
	// WindowKeys: by default, delay 5m, overlap 10m, lookback 1h
	// (CloudWatch's minutes arrive a few minutes late and may be revised).
	collectors.WindowKeys
	// Common holds request_timeout: it bounds one GetMetricData call, the
	// SDK's own retries included.
	collectors.Common
}

const defaultRegion = "us-east-1"

func defaultOptions() *Options {
	return &Options{Region: defaultRegion, Cron: "@every 1m",
		WindowKeys: collectors.WindowKeys{
			Delay:    collectors.Duration(5 * time.Minute),
			Overlap:  collectors.Duration(10 * time.Minute),
			Lookback: collectors.Duration(time.Hour),
		},
	}
}

// Schedule returns the cron spec.
func (o *Options) Schedule() string { return o.Cron }

// Validate reports every problem with the section.
func (o *Options) Validate(env collectors.Env) []collectors.Problem {
	var ps []collectors.Problem
	add := func(warn bool, key, format string, args ...any) {
		ps = append(ps, collectors.Problem{Key: "cloudfront." + key, Message: fmt.Sprintf(format, args...), Warning: warn})
	}
	ps = append(ps, o.CommonProblems("cloudfront")...)
	ps = append(ps, o.WindowProblems("cloudfront", retention)...)
	if o.EndpointURL != "" {
		if err := collectors.CheckURL(o.EndpointURL); err != nil {
			add(false, "endpoint_url", "%v", err)
		}
	}
	switch {
	case strings.TrimSpace(o.Region) == "":
		add(false, "region", "region is empty (CloudFront metrics live in us-east-1)")
	case o.Region != defaultRegion && o.EndpointURL == "":
		add(true, "region", "CloudFront publishes its metrics only in us-east-1; %q will return no data", o.Region)
	}
	if o.AccessKeyID != "" {
		switch {
		case o.SecretKeyFile != "":
			if warn, err := collectors.CheckSecretFile(o.SecretKeyFile); err != nil {
				add(false, "secret_key_file", "%v", err)
			} else if warn != "" {
				add(true, "secret_key_file", "%s", warn)
			}
		case o.SecretKeyEnv == "":
			add(false, "secret_key_env", "access_key_id is set: set secret_key_env (an environment variable name) or secret_key_file")
		case env.CheckSecretEnv(o.SecretKeyEnv) != nil:
			add(false, "secret_key_env", "%v", env.CheckSecretEnv(o.SecretKeyEnv))
		}
		if o.Profile != "" {
			add(true, "profile", "ignored: access_key_id selects static credentials")
		}
	} else if o.SecretKeyEnv != "" || o.SecretKeyFile != "" {
		add(false, "access_key_id", "secret_key_env/secret_key_file need access_key_id (or drop them to use the default credential chain)")
	}
	if len(o.Distributions) == 0 {
		add(false, "distribution", "list at least one distribution ([[cloudfront.distribution]] id, name)")
	}
	ids := map[string]int{}
	names := map[string]int{}
	for i, d := range o.Distributions {
		key := fmt.Sprintf("distribution[%d]", i)
		if strings.TrimSpace(d.ID) == "" {
			add(false, key+".id", "distribution id is empty")
			continue
		}
		if strings.ContainsAny(d.ID, " \t\r\n\"\\") {
			add(false, key+".id", "distribution id %q contains spaces or quotes", d.ID)
		}
		if j, dup := ids[d.ID]; dup {
			add(false, key+".id", "duplicate distribution id %q (also distribution[%d])", d.ID, j)
		}
		ids[d.ID] = i
		n := schema.Sanitize(d.label())
		if j, dup := names[n]; dup {
			add(false, key+".name", "distribution name %q gives the same Graphite path as distribution[%d]", d.label(), j)
		}
		names[n] = i
	}
	return ps
}
