package hook

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// contentKey names a delivery without an id by its content: the event
// kind and the body in a canonical JSON form, hashed. Two posts of the
// same deploy (a CI job retried, a script run twice, through another JSON
// encoder) get the same key whatever their white space, the order of
// their object keys or the escaping of their strings; numbers keep their
// text (UseNumber) and arrays their order. A body that is not JSON is
// hashed as it is.
func contentKey(kind string, body []byte) string {
	canon := body
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil && dec.InputOffset() == int64(len(bytes.TrimRight(body, " \t\r\n"))) {
		// json.Marshal writes object keys sorted.
		if b, err := json.Marshal(v); err == nil {
			canon = b
		}
	}
	sum := sha256.Sum256(append([]byte(kind+"\n"), canon...))
	return hex.EncodeToString(sum[:])
}

// recentSet remembers content keys for a window, persisted as an
// append-only file of "<key> <unix seconds>" lines (append + fsync per
// key; an atomic rewrite of the live entries when the file holds twice as
// many lines as there are live entries). An entry stamped further than the
// window from now, in either direction (a clock set back), is not trusted
// and is dropped.
type recentSet struct {
	mu       sync.Mutex
	path     string
	window   time.Duration
	max      int
	at       map[string]time.Time
	order    []string // oldest first; may hold keys already expired
	inflight map[string]bool
	lines    int
}

func openRecent(dir string, window time.Duration, max int, now time.Time) (*recentSet, error) {
	s := &recentSet{path: filepath.Join(dir, "recent-content"), window: window, max: max,
		at: map[string]time.Time{}, inflight: map[string]bool{}}
	data, err := os.ReadFile(s.path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("hook: read recent deliveries: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	for sc.Scan() {
		// A torn or corrupt line is skipped: at worst one repeat is
		// accepted again.
		key, secs, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(secs, 10, 64)
		if !ok || err != nil || len(key) != 2*sha256.Size {
			continue
		}
		s.lines++
		s.add(key, time.Unix(n, 0), now)
	}
	return s, nil
}

func (s *recentSet) live(t, now time.Time) bool {
	d := now.Sub(t)
	return d < s.window && d > -s.window
}

func (s *recentSet) add(key string, t, now time.Time) {
	if !s.live(t, now) {
		return
	}
	if _, ok := s.at[key]; !ok {
		s.order = append(s.order, key)
	}
	s.at[key] = t
	s.expire(now)
}

// expire drops the entries out of the window, oldest first, and the oldest
// beyond max.
func (s *recentSet) expire(now time.Time) {
	for len(s.order) > 0 {
		k := s.order[0]
		if t, ok := s.at[k]; ok && s.live(t, now) && len(s.at) <= s.max {
			break
		}
		delete(s.at, k)
		s.order = s.order[1:]
	}
}

// begin reserves key; it reports false when key was delivered within the
// window or is being processed now.
func (s *recentSet) begin(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.at[key]; ok && s.live(t, now) || s.inflight[key] {
		return false
	}
	s.inflight[key] = true
	return true
}

// abort releases key after a failed delivery so that a retry is accepted.
func (s *recentSet) abort(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, key)
}

// commit records key durably as delivered at now.
func (s *recentSet) commit(key string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, key)
	s.order = removeKey(s.order, key)
	delete(s.at, key)
	s.add(key, now, now)
	if s.lines+1 > 2*len(s.at)+16 {
		var b bytes.Buffer
		for _, k := range s.order {
			if t, ok := s.at[k]; ok {
				fmt.Fprintf(&b, "%s %d\n", k, t.Unix())
			}
		}
		if err := state.WriteFileAtomic(s.path, b.Bytes(), 0o640); err != nil {
			return fmt.Errorf("hook: compact recent deliveries: %w", err)
		}
		s.lines = len(s.at)
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("hook: record recent delivery: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s %d\n", key, now.Unix())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("hook: record recent delivery: %w", err)
	}
	s.lines++
	return nil
}

func removeKey(order []string, key string) []string {
	for i, k := range order {
		if k == key {
			return append(order[:i:i], order[i+1:]...)
		}
	}
	return order
}
