package app

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// newCommandLogger is the logger of every command: level "debug", "info",
// "warn" or "error" (config log_level, overridden by --log-level), format
// "text" (slog's key=value lines) or "json" (one object per line, for log
// shippers). Every line passes through redact (#16: secrets never appear
// in logs).
func newCommandLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config / checkLogLevel
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(redact.Handler(h))
}

// checkLogLevel refuses a --log-level slog would silently read as info.
func checkLogLevel(level string) error {
	switch level {
	case "", "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
}

// loadCommandConfig loads the config for one command: only the problems
// in sections (config.ReadBackSections for compare, graph and event; none
// given: every problem) stop it, and the command's --log-level overrides
// log_level.
func loadCommandConfig(fs flagSet, stdio IO, path string, sections ...string) (*config.Config, bool) {
	if len(sections) == 0 {
		cfg, ok := loadConfig(stdio, path)
		if ok {
			applyLogLevel(fs, cfg)
		}
		return cfg, ok
	}
	cfg, probs := config.Load(path, stdio.Getenv)
	probs = probs.Only(sections...)
	for _, p := range probs {
		fmt.Fprintln(stdio.Stderr, p.String())
	}
	if cfg == nil || len(probs.Errors()) > 0 {
		fmt.Fprintf(stdio.Stderr, "%s: %d error(s); run 'cdnmetrics validate --config %s'\n", path, len(probs.Errors()), path)
		return nil, false
	}
	applyLogLevel(fs, cfg)
	return cfg, true
}

func applyLogLevel(fs flagSet, cfg *config.Config) {
	if lv := logLevelOf(fs); lv != "" {
		cfg.LogLevel = lv
	}
}
