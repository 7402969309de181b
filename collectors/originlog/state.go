package originlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// stateVersion changes when the state file's meaning changes; an older
// file is then ignored (with a warning) rather than misread.
const stateVersion = 1

// state is what one run leaves for the next: where each file was read to,
// and the counts of the intervals that may still receive lines.
type state struct {
	Version int   `json:"version"`
	Step    int64 `json:"step"`
	// Watermark is the start of the oldest interval still held: lines
	// stamped before it belong to intervals that were emitted in full and
	// forgotten, so they are dropped as late instead of overwriting a
	// complete count with a partial one.
	Watermark int64                 `json:"watermark"`
	Files     map[string]*fileState `json:"files"`
	Intervals []*interval           `json:"intervals"`
}

// fileState identifies the file read last time and how far.
type fileState struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
	// FPLen bytes at the start of the file hash to FPSum (FNV-1a 64); this
	// tells a file from another that reuses its inode, or from itself
	// after it was truncated and rewritten.
	FPLen int    `json:"fp_len"`
	FPSum uint64 `json:"fp_sum"`
}

// interval is the counts of one step-sized interval.
type interval struct {
	Start     int64                  `json:"start"`
	Providers map[string]*provCounts `json:"providers,omitempty"`
	Beacons   map[string]int64       `json:"beacons,omitempty"`
}

// provCounts is what the origin saw from one provider in one interval.
type provCounts struct {
	Requests int64 `json:"requests"`
	Bytes    int64 `json:"bytes"`
	// Status counts classes 2xx..5xx (index 0..3).
	Status [4]int64 `json:"status"`
}

func (s *state) clone() *state {
	b, _ := json.Marshal(s)
	var c state
	_ = json.Unmarshal(b, &c)
	if c.Files == nil {
		c.Files = map[string]*fileState{}
	}
	return &c
}

// loadState reads the state file; a missing file is a first run.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &state{Version: stateVersion, Files: map[string]*fileState{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errCorrupt, path, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errCorrupt, path, err)
	}
	if s.Files == nil {
		s.Files = map[string]*fileState{}
	}
	return &s, nil
}

// errCorrupt marks a state file that cannot be used.
var errCorrupt = errors.New("corrupt state file")

// check rejects values no run writes, which would otherwise fail every
// later run (a negative offset) or count nonsense.
func (s *state) check() error {
	for p, f := range s.Files {
		if f == nil || f.Offset < 0 || f.FPLen < 0 || f.FPLen > fpMax {
			return fmt.Errorf("file %q: bad offset or fingerprint", p)
		}
	}
	for i, iv := range s.Intervals {
		if iv == nil {
			return fmt.Errorf("interval %d is null", i)
		}
		for n, pc := range iv.Providers {
			if pc == nil || pc.Requests < 0 || pc.Bytes < 0 || min(pc.Status[0], pc.Status[1], pc.Status[2], pc.Status[3]) < 0 {
				return fmt.Errorf("interval %d provider %q: bad counts", i, n)
			}
		}
		for n, v := range iv.Beacons {
			if v < 0 {
				return fmt.Errorf("interval %d beacon source %q: bad count", i, n)
			}
		}
	}
	return nil
}

// saveState writes s atomically: a temporary file in the same directory,
// fsync, rename over the old one, fsync the directory. A crash leaves the
// old state or the new one, never a torn file.
func saveState(path string, s *state) error {
	sort.Slice(s.Intervals, func(i, j int) bool { return s.Intervals[i].Start < s.Intervals[j].Start })
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	name := tmp.Name()
	_, werr := tmp.Write(b)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(name, path)
	}
	if werr != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write state: %w", werr)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
