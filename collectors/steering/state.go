package steering

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// stateFile holds the last weights seen per service, so that a restart
// posts no change event for weights that did not change.
const stateFile = "weights.json"

// stateDoc is the file's content.
type stateDoc struct {
	Version  int                `json:"version"`
	Services map[string]Weights `json:"services"`
}

const stateVersion = 1

// DecodeState reads the state file's content. Anything it cannot trust
// (not JSON, another version, a bad weight) is an error: the caller sets
// the file aside and starts without last weights.
func DecodeState(data []byte) (map[string]Weights, error) {
	var d stateDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	if d.Version != stateVersion {
		return nil, fmt.Errorf("version %d, want %d", d.Version, stateVersion)
	}
	out := make(map[string]Weights, len(d.Services))
	for svc, w := range d.Services {
		if w == nil {
			return nil, fmt.Errorf("service %q: no weights", svc)
		}
		if len(w) > maxProviders {
			return nil, fmt.Errorf("service %q: %d providers", svc, len(w))
		}
		for p, v := range w {
			if err := checkEntry(p, v); err != nil {
				return nil, fmt.Errorf("service %q: %w", svc, err)
			}
		}
		out[svc] = w
	}
	return out, nil
}

// loadState reads dir's state file: no file is no last weights; a corrupt
// file is renamed to <file>.corrupt-<unix seconds> and reported in
// setAside, never fatal.
func loadState(dir string, now time.Time) (last map[string]Weights, setAside string, err error) {
	path := filepath.Join(dir, stateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Weights{}, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("steering: read %s: %w", path, err)
	}
	last, derr := DecodeState(data)
	if derr == nil {
		return last, "", nil
	}
	to := fmt.Sprintf("%s.corrupt-%d", path, now.Unix())
	if err := os.Rename(path, to); err != nil {
		return nil, "", fmt.Errorf("steering: set aside corrupt %s: %w", path, err)
	}
	return map[string]Weights{}, to + " (" + derr.Error() + ")", nil
}

// saveState writes the last weights atomically.
func saveState(dir string, last map[string]Weights) error {
	data, err := json.Marshal(stateDoc{Version: stateVersion, Services: last})
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(filepath.Join(dir, stateFile), data, 0o640)
}
