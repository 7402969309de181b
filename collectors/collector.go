// Package collectors is the contract between the scheduler and the vendor
// packages below it: the Collector interface, the Window it collects, the
// Emitter it hands results to, and the registry vendors add themselves to
// from init(). A vendor package imports this package, internal/schema,
// internal/httpx and its SDK; never the sink, the scheduler or another
// vendor.
package collectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// ErrNoData means the vendor has not published the window yet. It is logged
// at debug level and is not a failure; the checkpoint does not move.
var ErrNoData = errors.New("no data yet")

// Window is the half-open interval [Start, End) to collect, aligned to the
// collector's step.
type Window struct {
	Start, End time.Time
}

func (w Window) String() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// Batch is what a collector hands over in one call: count records (the
// schema derives "all" and the ratios from them), gauges, and ready-made
// points for paths outside the provider tree (beacons, events).
type Batch struct {
	Records []schema.Record
	Gauges  []schema.Gauge
	Points  []schema.Point
}

// Emitter receives a collector's results. Emit may block while the sink's
// queue is full; it returns an error only when the batch cannot be accepted
// (shutdown), in which case the collector stops and reports it.
type Emitter interface {
	Emit(ctx context.Context, b Batch) error
}

// EmitterFunc adapts a function to Emitter.
type EmitterFunc func(ctx context.Context, b Batch) error

// Emit calls f.
func (f EmitterFunc) Emit(ctx context.Context, b Batch) error { return f(ctx, b) }

// Collector fetches one vendor's metrics.
type Collector interface {
	// Collect fetches the half-open window w and emits points stamped inside
	// it. It returns ErrNoData when the vendor has not published w yet.
	// Errors must not contain secrets.
	Collect(ctx context.Context, w Window, e Emitter) error
}

// Streamer is implemented by collectors with a real-time stream (Fastly
// real-time). The daemon calls Stream once instead of scheduling Collect;
// it returns when ctx is done.
type Streamer interface {
	Stream(ctx context.Context, e Emitter) error
}

// ServiceSelector is implemented by collectors that can restrict their
// next runs to some services (backfill --service). ids match a service's
// id or configured name.
type ServiceSelector interface {
	SelectServices(ids []string) error
}

// Selection is what a SelectServices call kept: service ids and names. The
// nil Selection keeps every service.
type Selection map[string]bool

// NewSelection returns the Selection of ids; nil (every service) for none.
func NewSelection(ids []string) Selection {
	if len(ids) == 0 {
		return nil
	}
	s := Selection{}
	for _, id := range ids {
		s[id] = true
	}
	return s
}

// Has reports whether the service with this id and name is selected.
func (s Selection) Has(id, name string) bool { return s == nil || s[id] || s[name] }

// Timing is a collector's view of its vendor's time: the step of its data,
// how late the data is final (Delay), how far each run re-reads the past to
// pick up revisions (Overlap), how far the first run looks back, the
// longest window one Collect call may be given (MaxWindow, 0 = no limit),
// and how far back the vendor keeps data at that step (Retention, 0 = no
// limit): older times from the vendor are rejected (see Clock).
type Timing struct {
	Step      time.Duration
	Delay     time.Duration
	Overlap   time.Duration
	Lookback  time.Duration
	MaxWindow time.Duration
	Retention time.Duration
}

// Env is what a collector gets from the program when it is built.
type Env struct {
	Prefix   string
	StateDir string
	Logger   *slog.Logger
	// Getenv looks up environment variables; tests replace it.
	Getenv func(string) string
	// HTTPClient is the shared transport; collectors wrap it with httpx.
	HTTPClient *http.Client
	// Include reports whether this instance collects the service with this
	// id and name (shard and allow/block lists). Collectors call it after
	// discovery; nil means every service.
	Include func(id, name string) bool
	// Events receives vendor configuration changes (e.g. a new active
	// Fastly service version); nil when events are not configured.
	Events EventPoster
	// Paths names discovered services in paths without clashes (see
	// PathNames); nil keeps names as they are.
	Paths PathNamer
	// Clock judges vendor times against ours (see Clock); the zero Clock
	// uses the default tolerance.
	Clock Clock
}

// Includes reports whether env includes the service; true when Include is nil.
func (env Env) Includes(id, name string) bool {
	return env.Include == nil || env.Include(id, name)
}

// EventPoster posts annotations.
type EventPoster interface {
	PostEvent(ctx context.Context, ev schema.Event) error
}

// Section is one collector's undecoded config section with the metadata to
// decode it.
type Section struct {
	Name string // the TOML table name, e.g. "fastly"
	md   *toml.MetaData
	prim toml.Primitive
}

// NewSection wraps a TOML primitive for decoding by a vendor package.
func NewSection(name string, md *toml.MetaData, prim toml.Primitive) Section {
	return Section{Name: name, md: md, prim: prim}
}

// Decode decodes the section into v (a pointer to the vendor's options,
// already holding its defaults). Keys left undecoded are reported by the
// config package afterwards.
func (s Section) Decode(v any) error {
	if s.md == nil {
		return nil
	}
	if err := s.md.PrimitiveDecode(s.prim, v); err != nil {
		return fmt.Errorf("[%s]: %w", s.Name, err)
	}
	return nil
}

// Options is a vendor's decoded configuration.
type Options interface {
	// Validate reports every problem, each naming its key
	// ("fastly.token_env: ..."). Warnings do not fail validation.
	Validate(env Env) (problems []Problem)
	// Schedule is the cron spec for the daemon ("@every 1m").
	Schedule() string
}

// Problem is one config finding.
type Problem struct {
	Key     string // dotted key, e.g. "fastly.service[0].id"
	Message string
	Warning bool // a warning is printed by validate but does not fail it
}

func (p Problem) String() string { return p.Key + ": " + p.Message }

// Factory builds one vendor's collector. Vendors register one from init().
// Simulation (API stand-ins, Expect) is not part of it: it lives in the
// vendor's simulation package, registered with internal/simulate.
type Factory struct {
	// Name is the config section and the provider name in paths.
	Name string
	// Decode decodes the vendor's section over its defaults.
	Decode func(s Section) (Options, error)
	// New builds the collector from validated options.
	New func(o Options, env Env) (Collector, error)
	// Timing returns the window rules for the built collector.
	Timing func(o Options) Timing
}

// Decoder returns a Factory.Decode that decodes a section over the options
// defaults returns.
func Decoder[O Options](defaults func() O) func(Section) (Options, error) {
	return func(s Section) (Options, error) {
		o := defaults()
		if err := s.Decode(o); err != nil {
			return nil, err
		}
		return o, nil
	}
}

// Builder returns a Factory.New that hands build its own options type;
// other options are an error naming the collector, not a panic.
func Builder[O Options, C Collector](name string, build func(O, Env) (C, error)) func(Options, Env) (Collector, error) {
	return func(o Options, env Env) (Collector, error) {
		opts, ok := o.(O)
		if !ok {
			return nil, fmt.Errorf("%s: options of type %T", name, o)
		}
		c, err := build(opts, env)
		if err != nil {
			// Not c: a nil *T in a Collector would not be a nil Collector.
			return nil, err
		}
		return c, nil
	}
}

// SimSecret is the credential every simulator stand-in accepts (see
// internal/simulate) and the simulator's config points collectors at,
// through the environment variable SimSecretEnv. It is not a secret: it only
// opens the simulator. It lives here, not in internal/simulate, because
// collector tests and config checks name it without running a simulator.
const (
	SimSecret    = "cdnmetrics-simulator-credential"
	SimSecretEnv = "CDNMETRICS_SIM_SECRET"
)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register adds f to the registry; it panics on a duplicate name, which is
// a programming error caught by any test.
func Register(f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[f.Name]; dup {
		panic("collectors: duplicate registration of " + f.Name)
	}
	factories[f.Name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := factories[name]
	return f, ok
}

// Names returns the registered names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SelectConfigured is SelectServices for a collector that reads its
// configured services or, with none configured, discovers them: it
// returns the Selection of ids, and an error when none of the configured
// services matches them (a backfill that would read nothing). Discovered
// services are matched when they are listed.
func SelectConfigured[S any](provider, kind string, ids []string, configured []S, ref func(S) ServiceRef) (Selection, error) {
	only := NewSelection(ids)
	if only == nil || len(configured) == 0 {
		return only, nil
	}
	for _, s := range configured {
		if r := ref(s); only.Has(r.ID, r.Name) {
			return only, nil
		}
	}
	return only, fmt.Errorf("%s: no configured %s matches %v", provider, kind, ids)
}
