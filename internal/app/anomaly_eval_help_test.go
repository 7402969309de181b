package app

import (
	"strings"
	"testing"
)

// `anomaly-eval -h` prints one usage text (nab's, which names every flag),
// not a second, shorter one ahead of it.
func TestAnomalyEvalHelpPrintsOneUsage(t *testing.T) {
	for _, h := range []string{"-h", "--help"} {
		_, stdout, stderr := run(t, "anomaly-eval", h)
		all := strings.ToLower(stdout + stderr)
		if n := strings.Count(all, "usage:"); n != 1 {
			t.Errorf("anomaly-eval %s printed %d usage texts, want 1:\n%s", h, n, stdout+stderr)
		}
		if !strings.Contains(all, "--holdout") || !strings.Contains(all, "nab_root") {
			t.Errorf("anomaly-eval %s: usage lacks the flags or NAB_ROOT:\n%s", h, stdout+stderr)
		}
	}
}
