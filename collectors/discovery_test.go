package collectors

import (
	"errors"
	"testing"
	"time"
)

// A list is reused for ttl; a failed refresh keeps the last list (and
// says so through kept); a failure before any list is returned.
func TestDiscoveryList(t *testing.T) {
	var d Discovery[string]
	t0 := time.Unix(1_700_000_000, 0)
	now := t0
	clock := func() time.Time { return now }
	calls := 0
	var answer []string
	var fail error
	discover := func() ([]string, error) { calls++; return answer, fail }
	var keptErr error
	keptN := -1
	kept := func(err error, n int) { keptErr, keptN = err, n }
	list := func() ([]string, error) { return d.List(15*time.Minute, clock, discover, kept) }

	fail = errors.New("down")
	if got, err := list(); err != fail || got != nil || keptN != -1 {
		t.Fatalf("first failure: %v, %v (kept %d), want the error", got, err, keptN)
	}
	fail, answer = nil, []string{"a", "b"}
	if got, err := list(); err != nil || len(got) != 2 || calls != 2 {
		t.Fatalf("discovery: %v, %v after %d calls", got, err, calls)
	}
	now = t0.Add(15*time.Minute - time.Second) // within the ttl: no call
	if got, _ := list(); len(got) != 2 || calls != 2 {
		t.Fatalf("within ttl: %v after %d calls, want the cached list and no call", got, calls)
	}
	now = t0.Add(15 * time.Minute)
	fail, answer = errors.New("flaky"), nil
	if got, err := list(); err != nil || len(got) != 2 || calls != 3 || keptErr != fail || keptN != 2 {
		t.Fatalf("failed refresh: %v, %v after %d calls, kept (%v, %d); want the last list, kept told", got, err, calls, keptErr, keptN)
	}
	fail, answer = nil, []string{"c"}
	if got, err := list(); err != nil || len(got) != 1 || got[0] != "c" || calls != 4 {
		t.Fatalf("refresh: %v, %v after %d calls, want [c]", got, err, calls)
	}
}
