package originlog

import (
	"log/slog"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer = collectorstest.SyncBuffer

func testEnv(t testing.TB, stateDir string) collectors.Env {
	return collectors.Env{Prefix: "cdn", StateDir: stateDir,
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}
