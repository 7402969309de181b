package config

import "github.com/cdnmetrics/cdnmetrics/collectors"

// limitProblems checks the caps of the hook's listener.
func (h Hook) limitProblems() []collectors.Problem {
	var ps []collectors.Problem
	if h.MaxConnections <= 0 {
		ps = append(ps, collectors.Problem{Key: "hook.max_connections", Message: "must be positive"})
	}
	if h.MaxInflightBodies <= 0 {
		ps = append(ps, collectors.Problem{Key: "hook.max_inflight_bodies", Message: "must be positive"})
	}
	if h.DedupeWindow < 0 {
		ps = append(ps, collectors.Problem{Key: "hook.dedupe_window", Message: "must not be negative (0 turns deduplication by content off)"})
	}
	return ps
}
