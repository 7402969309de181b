package originlog

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testEnv(t testing.TB, stateDir string) collectors.Env {
	return collectors.Env{Prefix: "cdn", StateDir: stateDir,
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}
