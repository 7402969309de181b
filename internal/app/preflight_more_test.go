package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A state_dir this user cannot create is refused by validate, as run would
// refuse it (mkdir), before anything starts.
func TestValidateRefusesUnwritableStateDir(t *testing.T) {
	// A regular file in the way fails for root too (root may write anywhere).
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "127.0.0.1:1", "")
	text, _ := os.ReadFile(cfg)
	bad := strings.Replace(string(text), "state_dir = ", "state_dir = \""+filepath.Join(blocker, "state")+"\"\n#", 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "validate", "--config", cfg)
	if code != 2 || !strings.Contains(errs, "state_dir") || !strings.Contains(errs, "not a directory") {
		t.Fatalf("validate: exit %d, %s", code, errs)
	}
	if code, _, errs := run(t, "collect", "--config", cfg); code != 2 || !strings.Contains(errs, "state_dir") {
		t.Fatalf("collect: exit %d, %s", code, errs)
	}
}

// collect --collector with a name the config lacks is a usage error before
// the sink connects or the spool is replayed (carbon here is a closed port:
// connecting would log a refusal) and before state_dir is opened.
func TestCollectUnknownCollectorRefusedFirst(t *testing.T) {
	cfg := writeConfig(t, "127.0.0.1:1", "")
	code, _, errs := run(t, "collect", "--config", cfg, "--collector", "nosuch")
	if code != 2 || !strings.Contains(errs, `collector "nosuch" is not configured (configured: fakecdn)`) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(errs, "carbon") || strings.Contains(errs, "connect") {
		t.Fatalf("touched the sink before refusing:\n%s", errs)
	}
	// Nothing was opened: the state directory (spool, checkpoints) was not
	// even created.
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "state")); !os.IsNotExist(err) {
		t.Fatalf("state_dir created before the refusal (err %v)", err)
	}
}
