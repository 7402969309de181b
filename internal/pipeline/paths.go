package pipeline

import (
	"log/slog"
	"sync"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// PathNamer is the program's collectors.PathNamer: state.Paths decides and
// remembers who owns a path; this adds one warning per clash per process
// and the self-metric <prefix>.cdnmetrics.collector.<provider>.path_clashes
// (services this process renamed with their id).
type PathNamer struct {
	paths  *state.Paths
	logger *slog.Logger

	mu      sync.Mutex
	told    map[state.Clash]bool
	clashes map[string]int64 // provider → clashing services seen
	saveErr bool             // the paths file could not be written (said once)
}

// NewPathNamer reads who owns which service path from stateDir (a dry run
// only reads it, and starts afresh when it cannot).
func NewPathNamer(stateDir string, dryRun bool, logger *slog.Logger) (*PathNamer, error) {
	p, err := state.OpenPaths(stateDir, dryRun, schema.Sanitize)
	if err != nil && dryRun {
		// A dry run may be run by someone who cannot read state_dir.
		logger.Warn("service path owners not read; the dry run names clashing services afresh", "err", err)
		p, err = state.OpenPaths("", true, schema.Sanitize)
	}
	if err != nil {
		return nil, err
	}
	if p.Corrupt != "" {
		logger.Error("service path owners unreadable; set aside, clashing services are named afresh by the lowest-id rule",
			"err", p.Corrupt, "set_aside_as", p.SetAside)
	}
	return &PathNamer{paths: p, logger: logger, told: map[state.Clash]bool{}, clashes: map[string]int64{}}, nil
}

// PathNames implements collectors.PathNamer.
func (n *PathNamer) PathNames(provider string, svcs []collectors.ServiceRef) []string {
	ids, names := make([]string, len(svcs)), make([]string, len(svcs))
	for i, s := range svcs {
		ids[i], names[i] = s.ID, s.Name
	}
	out, clashes, err := n.paths.Assign(provider, ids, names)
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range clashes {
		if n.told[c] {
			continue
		}
		n.told[c] = true
		n.clashes[provider]++
		n.logger.Warn("service name clashes with another service's Graphite path; its points go under a path with its id instead",
			"collector", provider, "service", c.Name, "id", c.ID, "path_node", c.Path, "owner_id", c.Owner)
	}
	if err != nil && !n.saveErr {
		n.saveErr = true
		n.logger.Error("who owns which service path was not saved; a restart may name clashing services differently", "err", err)
	}
	return out
}

// points are the path_clashes self-metrics at ts.
func (n *PathNamer) points(prefix string, ts int64) []schema.Point {
	if n == nil { // a program built without state (tests)
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var pts []schema.Point
	for prov, c := range n.clashes {
		pts = append(pts, schema.Point{Path: schema.Path(prefix, schema.NamespaceSelf, "collector", prov, "path_clashes"), Value: float64(c), Time: ts})
	}
	return pts
}
