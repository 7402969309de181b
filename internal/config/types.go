package config

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/cost"
	"github.com/cdnmetrics/cdnmetrics/internal/skyline"
)

// Config is the whole program configuration. Vendor sections are decoded by
// their packages into Collectors; everything else is here.
type Config struct {
	// File is the path the config was loaded from.
	File string `toml:"-"`

	StateDir string `toml:"state_dir"`
	LogLevel string `toml:"log_level"`
	// LogFormat is "text" (slog's key=value lines) or "json" (one JSON
	// object per line, for log shippers).
	LogFormat string `toml:"log_format"`
	// MaxCatchup bounds how far back one collect run fills a gap after
	// downtime; older gaps are reported and left to backfill.
	MaxCatchup Duration `toml:"max_catchup"`
	// RunTimeout bounds one collector run; 0 (unset) means its schedule
	// period in the daemon and 10 minutes for one `collect` (RunDeadline).
	RunTimeout Duration `toml:"run_timeout"`
	// ClockSkewTolerance is how far ahead of our clock a vendor time (a
	// record, bucket, event time, checkpoint) may be before it is rejected.
	ClockSkewTolerance Duration `toml:"clock_skew_tolerance"`
	// Shard is "i/n": this instance collects the services whose stable
	// hash falls on shard i of n (the --shard flag overrides it).
	Shard    string   `toml:"shard"`
	Graphite Graphite `toml:"graphite"`
	// Filters holds per-provider service lists and cardinality controls.
	Filters map[string]Filter `toml:"filters"`
	Events  Events            `toml:"events"`
	Hook    Hook              `toml:"hook"`
	Admin   Admin             `toml:"admin"`
	RUM     RUM               `toml:"rum"`
	Compare Compare           `toml:"compare"`
	Anomaly Anomaly           `toml:"anomaly"`
	Skyline SkylineOptions    `toml:"skyline"`
	// Cost holds the [cost.<provider>] price plans (internal/cost).
	Cost map[string]cost.Plan `toml:"cost"`

	// Collectors holds every configured vendor section, sorted by name.
	Collectors []Collector `toml:"-"`
}

// Graphite is the [graphite] section: where points go and where they are
// read back.
type Graphite struct {
	Address string `toml:"address"` // carbon plaintext host:port
	Prefix  string `toml:"prefix"`
	// WebURL is graphite-web, for compare and graph.
	WebURL string `toml:"web_url"`
	// QueueSize is the number of points the sink buffers in memory.
	QueueSize int `toml:"queue_size"`
	// WriteTimeout bounds one write to carbon.
	WriteTimeout Duration `toml:"write_timeout"`
	// SpoolMaxBytes bounds the on-disk spool under state_dir/spool; 0 disables it.
	SpoolMaxBytes int64 `toml:"spool_max_bytes"`
	// SelfMetricsInterval is how often the daemon writes <prefix>.cdnmetrics.*.
	SelfMetricsInterval Duration `toml:"self_metrics_interval"`
	// Tags writes provider metrics as Graphite tagged series too ("both")
	// or instead of the dotted tree ("only"); "off" by default.
	Tags string `toml:"tags"`
	// Username and PasswordEnv enable basic auth towards web_url (compare,
	// graph), as [events] username/password_env do for the events API.
	Username    string `toml:"username"`
	PasswordEnv string `toml:"password_env"`
}

// Filter is one [filters.<provider>] table.
type Filter struct {
	// Allow and Block are regular expressions on the service name; a
	// service is collected when it matches an allow entry (or there is
	// none) and no block entry.
	Allow []string `toml:"allow"`
	Block []string `toml:"block"`
	// AggregateOnly drops per-POP/region series and keeps only `all`.
	AggregateOnly bool `toml:"aggregate_only"`
}

// Events is the [events] section: graphite-web's events API.
type Events struct {
	// GraphiteWebURLs lists every graphite-web that should hold the events
	// (graphite-web does not replicate its events database).
	GraphiteWebURLs []string `toml:"graphite_web_urls"`
	// Tags are added to every event.
	Tags []string `toml:"tags"`
	// Username and PasswordEnv enable basic auth towards graphite-web;
	// when neither is set, [graphite]'s are used.
	Username    string `toml:"username"`
	PasswordEnv string `toml:"password_env"`
}

// Hook is the [hook] section: the deploy hook of the daemon.
type Hook struct {
	// Listen is the address of the deploy hook; empty disables it.
	Listen string `toml:"listen"`
	// SecretEnv names the variable holding the HMAC key and bearer token.
	SecretEnv string `toml:"secret_env"`
	// MaxBodyBytes bounds a hook request body.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// MaxConnections bounds the connections open at once; more wait
	// in the kernel's backlog until one closes.
	MaxConnections int `toml:"max_connections"`
	// MaxInflightBodies bounds the request bodies read at once before
	// their sender is authenticated (signed requests); more get 503.
	MaxInflightBodies int `toml:"max_inflight_bodies"`
	// DedupeWindow is how long a delivery without an id is remembered by
	// its content, so that the same body posted again is ignored; 0
	// turns this off.
	DedupeWindow Duration `toml:"dedupe_window"`
}

// Anomaly is the [anomaly] section: the built-in detector.
type Anomaly struct {
	// Enabled scores every point whose path matches Filter.
	Enabled bool `toml:"enabled"`
	// Filter is a regular expression on paths (default: the ratios).
	Filter string `toml:"filter"`
	// Threshold is the score that posts an `anomaly` event.
	Threshold float64 `toml:"threshold"`
	// Repeat suppresses further events of one series for this long.
	Repeat Duration `toml:"repeat"`
	// Confirm is the number of points after a crossing that must confirm
	// it before the event is posted (0: post at once).
	Confirm int `toml:"confirm"`
}

// Compare is the [compare] section: verdict thresholds of `compare`.
type Compare struct {
	Baseline string `toml:"baseline"`
	// TTFBMaxIncreasePct: a provider fails when its TTFB p50 or p95 is more
	// than this many percent above the baseline's.
	TTFBMaxIncreasePct float64 `toml:"ttfb_max_increase_pct"`
	// HitRatioMaxDropPP / OriginOffloadMaxDropPP: percentage points a
	// provider may be below the baseline.
	HitRatioMaxDropPP      float64 `toml:"hit_ratio_max_drop_pp"`
	OriginOffloadMaxDropPP float64 `toml:"origin_offload_max_drop_pp"`
	// ErrorRatioMaxRisePP: percentage points a provider may be above.
	ErrorRatioMaxRisePP float64 `toml:"error_ratio_max_rise_pp"`
	// SteeringMarginPct: a provider is flagged when its observed request
	// share differs from its steering weight by more than this many
	// percentage points.
	SteeringMarginPct float64 `toml:"steering_margin_pct"`
}

// Default returns the configuration every file is decoded over.
func Default() Config {
	return Config{
		StateDir:           "/var/lib/cdnmetrics",
		LogLevel:           "info",
		LogFormat:          "text",
		MaxCatchup:         Duration(24 * time.Hour),
		ClockSkewTolerance: Duration(5 * time.Minute),
		Graphite: Graphite{
			Address:             "127.0.0.1:2003",
			Prefix:              "cdn",
			QueueSize:           100000,
			WriteTimeout:        Duration(10 * time.Second),
			SpoolMaxBytes:       256 << 20,
			SelfMetricsInterval: Duration(time.Minute),
			Tags:                "off",
		},
		Events:  Events{Tags: []string{"cdnmetrics"}},
		Anomaly: Anomaly{Filter: `\.(hit_ratio|error_ratio|origin_offload)$`, Threshold: 0.5, Repeat: Duration(time.Hour), Confirm: 2},
		Skyline: skyline.DefaultOptions(),
		Admin:   Admin{Listen: DefaultAdminListen},
		RUM:     defaultRUM(),
		Hook:    Hook{SecretEnv: "CDNMETRICS_HOOK_SECRET", MaxBodyBytes: 1 << 20, MaxConnections: 64, MaxInflightBodies: 8, DedupeWindow: Duration(10 * time.Minute)},
		Compare: Compare{
			Baseline:               "fastly",
			TTFBMaxIncreasePct:     5,
			HitRatioMaxDropPP:      0.5,
			OriginOffloadMaxDropPP: 0.5,
			ErrorRatioMaxRisePP:    0.1,
			SteeringMarginPct:      10,
		},
	}
}

// Duration is a time.Duration that decodes from TOML strings ("90s", "5m"):
// the one duration type of every configuration section.
type Duration = collectors.Duration
