package app

// Exit statuses, one scheme for every command (README "Exit codes").
const (
	// exitOK: the command did what was asked; a verdict passed.
	exitOK = 0
	// exitFailed: a verdict failed (compare), or a run did not do all it
	// should (a collector failed, an event was rejected).
	exitFailed = 1
	// exitUsage: bad flags or arguments, or a config error.
	exitUsage = 2
	// exitBackend: a backend (carbon, graphite-web) was unreachable or its
	// answer unusable.
	exitBackend = 3
)
