package rum

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// openFile is where the minute in progress is kept across a restart,
// under the state directory.
const openFile = "open-minute.json"

// savedCell is one cell on disk; the sketches in DDSketch's own binary
// encoding (mapping omitted: always the logarithmic mapping of RelativeAccuracy).
type savedCell struct {
	Provider, Service, Country string
	Samples, Errors            int64
	Hits, Known                int64
	TTFB, Connect, TLS, Kbps   []byte
}

type savedMinutes struct {
	Version int
	Minutes map[int64][]savedCell
}

// saveOpen writes the minutes not yet ended at now to dir, so that a
// daemon started again within the minute adds to them instead of
// overwriting their point with the rest of the minute alone.
func (a *Aggregator) saveOpen(dir string, now time.Time) error {
	a.mu.Lock()
	out := savedMinutes{Version: 1, Minutes: map[int64][]savedCell{}}
	for m, cells := range a.minutes {
		if m+minute <= now.Unix() {
			continue
		}
		for k, c := range cells {
			sc := savedCell{Provider: k.provider, Service: k.service, Country: k.country, Samples: c.samples, Errors: c.errors, Hits: c.hits, Known: c.known}
			c.ttfb.Encode(&sc.TTFB, true)
			c.connect.Encode(&sc.Connect, true)
			c.tls.Encode(&sc.TLS, true)
			c.kbps.Encode(&sc.Kbps, true)
			out.Minutes[m] = append(out.Minutes[m], sc)
		}
	}
	a.mu.Unlock()
	if len(out.Minutes) == 0 {
		return nil
	}
	data, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(dir, openFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, openFile))
}

// loadOpen merges the minutes saved at the last stop that have not ended
// at now (older ones were emitted at that stop) and removes the file. A
// file that does not decode is removed and reported; a cell naming a
// provider, service or country outside today's lists is filed as they
// would be now.
func (a *Aggregator) loadOpen(dir string, now time.Time) (restored int, err error) {
	path := filepath.Join(dir, openFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	var in savedMinutes
	if err := json.Unmarshal(data, &in); err != nil || in.Version != 1 {
		return 0, fmt.Errorf("%s: not a saved minute (%v); ignored", path, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for m, cells := range in.Minutes {
		if m%minute != 0 || m+minute <= now.Unix() || m > now.Unix() {
			continue
		}
		for _, sc := range cells {
			if sc.Samples < 0 || sc.Errors < 0 || sc.Hits < 0 || sc.Known < sc.Hits {
				continue
			}
			c := newCell()
			if c.ttfb.DecodeAndMergeWith(sc.TTFB) != nil || c.connect.DecodeAndMergeWith(sc.Connect) != nil ||
				c.tls.DecodeAndMergeWith(sc.TLS) != nil || c.kbps.DecodeAndMergeWith(sc.Kbps) != nil {
				continue
			}
			c.samples, c.errors, c.hits, c.known = sc.Samples, sc.Errors, sc.Hits, sc.Known
			k := key{a.restoredName(sc.Provider, a.providers), a.restoredName(sc.Service, a.services), country(sc.Country)}
			a.cellAt(time.Unix(m, 0), k).merge(c)
			restored++
		}
	}
	return restored, nil
}

func (a *Aggregator) restoredName(name string, allowed map[string]bool) string {
	if allowed[name] {
		return name
	}
	return Other
}
