package app

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestLoggerAndStderrRedact: whatever path a credential takes to the
// program's log or its stderr (an error quoting a server's echo), it is
// removed there too.
func TestLoggerAndStderrRedact(t *testing.T) {
	const echoed = "Authorization: Basic b3BzOmh1bnRlcjItaHVudGVy" // ops:hunter2-hunter
	var logs bytes.Buffer
	newCommandLogger(&logs, "info", "text").Error("vendor request failed", "err", errors.New("HTTP 400: "+echoed))
	if strings.Contains(logs.String(), "b3BzOmh1bnRlcjItaHVudGVy") || !strings.Contains(logs.String(), "Basic [redacted]") {
		t.Errorf("log line not redacted: %s", logs.String())
	}
	var stderr bytes.Buffer
	register(Command{Name: "echo-test", Run: func(_ context.Context, stdio IO, _ []string) int {
		stdio.Stderr.Write([]byte("echo-test: " + echoed + "\n"))
		return 1
	}})
	defer delete(commands, "echo-test")
	Main(context.Background(), []string{"echo-test"}, IO{Stdout: &bytes.Buffer{}, Stderr: &stderr})
	if strings.Contains(stderr.String(), "b3BzOmh1bnRlcjItaHVudGVy") || !strings.Contains(stderr.String(), "Basic [redacted]") {
		t.Errorf("stderr not redacted: %s", stderr.String())
	}
}
