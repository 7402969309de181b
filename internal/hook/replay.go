package hook

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// seenSet is a bounded set of delivery ids, oldest evicted first, persisted
// as an append-only file of one id per line (append + fsync per id, and a
// compacting atomic rewrite when the file holds twice the bound).
type seenSet struct {
	mu       sync.Mutex
	path     string
	max      int
	order    []string // oldest first
	set      map[string]bool
	inflight map[string]bool
	lines    int // lines in the file
}

func openSeen(dir string, max int) (*seenSet, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("hook: state directory: %w", err)
	}
	s := &seenSet{path: filepath.Join(dir, "deliveries"), max: max, set: map[string]bool{}, inflight: map[string]bool{}}
	data, err := os.ReadFile(s.path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("hook: read delivery ids: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	for sc.Scan() {
		// A torn last line (crash during append) is an id prefix that
		// was never acknowledged; keeping it is harmless.
		if id := sc.Text(); id != "" {
			s.lines++
			s.addMem(id)
		}
	}
	return s, nil
}

func (s *seenSet) addMem(id string) {
	if s.set[id] {
		return
	}
	s.set[id] = true
	s.order = append(s.order, id)
	if len(s.order) > s.max {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
}

// begin reserves id for processing; it reports false when id was already
// delivered or is being processed now.
func (s *seenSet) begin(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set[id] || s.inflight[id] {
		return false
	}
	s.inflight[id] = true
	return true
}

// abort releases id after a failed delivery so that a retry is accepted.
func (s *seenSet) abort(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, id)
}

// commit records id durably.
func (s *seenSet) commit(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, id)
	s.addMem(id)
	if s.lines+1 > 2*s.max {
		var b bytes.Buffer
		for _, v := range s.order {
			b.WriteString(v)
			b.WriteByte('\n')
		}
		if err := state.WriteFileAtomic(s.path, b.Bytes(), 0o640); err != nil {
			return fmt.Errorf("hook: compact delivery ids: %w", err)
		}
		s.lines = len(s.order)
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("hook: record delivery id: %w", err)
	}
	_, err = f.WriteString(id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("hook: record delivery id: %w", err)
	}
	s.lines++
	return nil
}
