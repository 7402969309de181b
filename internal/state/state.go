// Package state keeps what must survive a restart under state_dir: per
// collector checkpoints (the end of the last completed window) and which
// service owns which Graphite path (paths.json, see Paths). Every write
// is atomic: temp file, fsync, rename, fsync of the directory, so a crash
// leaves either the old or the new checkpoint, never a torn one.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Store reads and writes checkpoints in one directory.
type Store struct {
	dir string
}

// Open returns a store under stateDir/checkpoints, creating it.
func Open(stateDir string) (*Store, error) {
	return OpenDir(filepath.Join(stateDir, "checkpoints"))
}

// OpenDir returns a store in dir, creating it.
func OpenDir(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Checkpoint is the progress of one collector (and optionally one service).
type Checkpoint struct {
	// End is the end of the last window whose points reached the sink.
	End time.Time `json:"end"`
	// Updated is when the checkpoint was written.
	Updated time.Time `json:"updated"`
}

func (s *Store) path(name string) string {
	return filepath.Join(s.dir, fileName(name)+".json")
}

// ErrCorrupt is wrapped by Get when a checkpoint file cannot be decoded
// (a torn write on a filesystem without atomic rename, a hand edit).
var ErrCorrupt = errors.New("checkpoint file is corrupt")

// Get returns the checkpoint of name; ok is false when there is none. An
// undecodable file is an error wrapping ErrCorrupt (see SetAside).
func (s *Store) Get(name string) (cp Checkpoint, ok bool, err error) {
	data, err := os.ReadFile(s.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("state: read checkpoint %s: %w", name, err)
	}
	if err := json.Unmarshal(data, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("state: checkpoint %s (%s): %w: %v", name, s.path(name), ErrCorrupt, err)
	}
	return cp, true, nil
}

// SetAside renames the checkpoint file of name to <file>.corrupt-<unix
// seconds> so the collector can start over without losing the evidence,
// and returns the new path.
func (s *Store) SetAside(name string, now time.Time) (string, error) {
	to := fmt.Sprintf("%s.corrupt-%d", s.path(name), now.Unix())
	if err := os.Rename(s.path(name), to); err != nil {
		return "", fmt.Errorf("state: set aside corrupt checkpoint %s: %w", name, err)
	}
	return to, nil
}

// Set writes the checkpoint of name atomically.
func (s *Store) Set(name string, cp Checkpoint) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.path(name), data, 0o640)
}

// WriteFileAtomic writes data to path through a temp file in the same
// directory, fsyncs it, renames it over path and fsyncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("state: write %s: %w", tmp, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("state: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// fileName is name with every byte outside [a-z0-9_-] (after lower-casing)
// turned into '_', "_" when empty: the same rule as schema.Sanitize, so
// checkpoint files of collector names keep their names, written here so
// that state needs nothing of the schema.
func fileName(name string) string {
	if name == "" {
		return "_"
	}
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			c = '_'
		}
		b[i] = c
	}
	return string(b)
}
