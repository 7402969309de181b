// Package shard splits services across cdnmetrics instances and applies the
// allow/block lists: the one place that decides whether this instance
// collects a given provider's service.
package shard

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
)

// Spec is "i/n": this instance is shard i (1-based) of n.
type Spec struct {
	Index, Count int
}

// ParseSpec reads "i/n"; "" means one shard of one.
func ParseSpec(s string) (Spec, error) {
	if s == "" {
		return Spec{1, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Spec{}, fmt.Errorf("shard %q: want i/n with 1 <= i <= n", s)
	}
	return Spec{i, n}, nil
}

func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Owns reports whether this shard collects service id of provider. The
// hash is FNV-1a of "provider/id", stable across versions and machines:
// every service lands on exactly one shard.
func (s Spec) Owns(provider, id string) bool {
	if s.Count <= 1 {
		return true
	}
	return Of(provider, id, s.Count) == s.Index
}

// Of returns the 1-based shard of provider's service id among n.
func Of(provider, id string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(provider))
	h.Write([]byte{'/'})
	h.Write([]byte(id))
	return int(h.Sum64()%uint64(n)) + 1
}

// Filter is one provider's service lists.
type Filter struct {
	Allow []*regexp.Regexp // empty: every service
	Block []*regexp.Regexp
}

// Compile builds a Filter from regular expressions.
func Compile(allow, block []string) (Filter, error) {
	var f Filter
	for _, p := range allow {
		re, err := regexp.Compile(p)
		if err != nil {
			return Filter{}, fmt.Errorf("allow %q: %w", p, err)
		}
		f.Allow = append(f.Allow, re)
	}
	for _, p := range block {
		re, err := regexp.Compile(p)
		if err != nil {
			return Filter{}, fmt.Errorf("block %q: %w", p, err)
		}
		f.Block = append(f.Block, re)
	}
	return f, nil
}

// Match reports whether a service name passes: allowed (or no allow list)
// and not blocked.
func (f Filter) Match(name string) bool {
	for _, re := range f.Block {
		if re.MatchString(name) {
			return false
		}
	}
	if len(f.Allow) == 0 {
		return true
	}
	for _, re := range f.Allow {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}
