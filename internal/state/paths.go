package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"
)

// maxSuffixTries bounds the search for a free path for a clashing service
// (name_id, name_id_2, …); only a hostile service list gets near it.
const maxSuffixTries = 100

// Paths remembers which service id owns each service node of a provider's
// Graphite paths (<prefix>.<provider>.<node>), so that a path never passes
// from one service to another: the service seen first keeps its plain name
// for good, a later service whose name gives the same node gets its id
// appended. Ownership is written to state_dir/paths.json on every change.
type Paths struct {
	// Corrupt is why the file could not be read ("" when it could);
	// SetAside is where it was moved (empty for a read-only open).
	Corrupt, SetAside string

	mu       sync.Mutex
	file     string                       // "" when there is no state_dir
	readOnly bool                         // dry runs: decide, never write
	node     func(string) string          // a service name's path node (schema.Sanitize)
	owners   map[string]map[string]string // provider → node → service id
}

// pathsFile is the JSON form of paths.json.
type pathsFile struct {
	Owners map[string]map[string]string `json:"owners"`
}

// OpenPaths loads stateDir/paths.json (none yet: nobody owns anything).
// With readOnly (dry runs) new owners are kept in memory only; with stateDir
// "" there is no file at all. A corrupt file must not stop every collector
// run after run: it is renamed to paths.json.corrupt-<unix seconds> (kept
// for a person to restore) and the owners start empty; SetAside says where
// it went so the caller can say so loudly. The next listings decide the
// owners again by the same rule (lowest id first), so a path moves only
// where that rule and the lost history disagree.
func OpenPaths(stateDir string, readOnly bool, node func(string) string) (*Paths, error) {
	p := &Paths{owners: map[string]map[string]string{}, readOnly: readOnly, node: node}
	if stateDir == "" {
		return p, nil
	}
	p.file = filepath.Join(stateDir, "paths.json")
	data, err := os.ReadFile(p.file)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: read %s: %w", p.file, err)
	}
	var f pathsFile
	if err := json.Unmarshal(data, &f); err != nil {
		p.Corrupt = fmt.Sprintf("%s: %v", p.file, err)
		if !readOnly {
			to := fmt.Sprintf("%s.corrupt-%d", p.file, time.Now().Unix())
			if rerr := os.Rename(p.file, to); rerr != nil {
				return nil, fmt.Errorf("state: %s is corrupt (%v) and could not be set aside: %w", p.file, err, rerr)
			}
			p.SetAside = to
		}
		return p, nil
	}
	for prov, m := range f.Owners {
		if m != nil {
			p.owners[prov] = m
		}
	}
	return p, nil
}

// Clash is a service that did not get its plain name in paths.
type Clash struct {
	Provider, ID, Name string
	Path               string // the node it got: sanitised name_id
	Owner              string // the id owning the node of its plain name
}

// Assign returns the name each service (ids[i], names[i]) uses in paths,
// and the services that clashed. Services already owning their node come
// first; the others claim in id order, so one listing gives the same
// answer whatever order the vendor lists it in. The error (ownership could
// not be saved) leaves the answer valid for this process.
func (p *Paths) Assign(provider string, ids, names []string) ([]string, []Clash, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	own := p.owners[provider]
	if own == nil {
		own = map[string]string{}
		p.owners[provider] = own
	}
	// Ids are kept as paths.json reads them back: JSON turns each invalid
	// UTF-8 byte into U+FFFD, and so does a conversion to runes.
	ids = slices.Clone(ids)
	for i, id := range ids {
		if !utf8.ValidString(id) {
			ids[i] = string([]rune(id))
		}
	}
	out := make([]string, len(names))
	var pending []int
	for i := range names {
		if o, ok := own[p.node(names[i])]; ok && o == ids[i] {
			out[i] = names[i]
		} else {
			pending = append(pending, i)
		}
	}
	sort.SliceStable(pending, func(a, b int) bool { return ids[pending[a]] < ids[pending[b]] })
	changed := false
	var clashes []Clash
	for _, i := range pending {
		id, name := ids[i], names[i]
		node := p.node(name)
		owner, taken := own[node]
		if !taken {
			own[node], out[i], changed = id, name, true
			continue
		}
		cand := name + "_" + id
		for try := 2; try <= maxSuffixTries; try++ {
			o, ok := own[p.node(cand)]
			if !ok {
				own[p.node(cand)], changed = id, true
			}
			if !ok || o == id {
				break
			}
			cand = fmt.Sprintf("%s_%s_%d", name, id, try)
		}
		out[i] = cand
		clashes = append(clashes, Clash{Provider: provider, ID: id, Name: name, Path: p.node(cand), Owner: owner})
	}
	if !changed || p.file == "" || p.readOnly {
		return out, clashes, nil
	}
	data, err := json.Marshal(pathsFile{Owners: p.owners})
	if err == nil {
		err = WriteFileAtomic(p.file, data, 0o640)
	}
	return out, clashes, err
}
