package simulate

import (
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// Env is what a vendor's API stand-in gets from the simulator.
type Env struct {
	Model  *traffic.Model
	Now    func() time.Time
	Logger *slog.Logger
	// Secret returns the credential the stand-in checks requests against
	// (the simulator and the collector are configured with the same one,
	// collectors.SimSecret).
	Secret func(provider string) string
}

// Simulator is one vendor's simulation: a stand-in for its API, the config
// section that points its collector at the stand-in, and what that
// collector should emit. Simulation packages (collectors/<vendor>/<vendor>sim)
// register one from init(); the collector itself knows nothing of it.
type Simulator struct {
	// Name is the collector's name (its config section and provider).
	Name string
	// Serve registers the stand-in on mux, serving env.Model.
	Serve func(mux *http.ServeMux, env Env)
	// Config returns the TOML section that points the collector at the
	// stand-in at baseURL. It may write files the section refers to (an
	// .edgerc) into dir. Secrets it names are the ones Env.Secret hands the
	// stand-in (collectors.SimSecret through collectors.SimSecretEnv).
	Config func(baseURL, dir string) (string, error)
	// Expect returns the records the stand-in serves for window w, as the
	// collector configured by Config should emit them from Collect,
	// computed from the model and the vendor's documented field meanings,
	// never with the collector's own mapping code. Nil when Collect over a
	// past window has nothing to compare (a real-time API without history).
	Expect func(m *traffic.Model, w collectors.Window) []schema.Record
}

var (
	mu         sync.RWMutex
	simulators = map[string]Simulator{}
)

// Register adds s to the registry; it panics on a duplicate name, which is
// a programming error caught by any test.
func Register(s Simulator) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := simulators[s.Name]; dup {
		panic("simulate: duplicate registration of " + s.Name)
	}
	simulators[s.Name] = s
}

// Lookup returns the simulator registered under name.
func Lookup(name string) (Simulator, bool) {
	mu.RLock()
	defer mu.RUnlock()
	s, ok := simulators[name]
	return s, ok
}

// Names returns the registered names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(simulators))
	for n := range simulators {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
