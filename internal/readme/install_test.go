package readme

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// requireEnv makes a missing tool a failure instead of a skip, as for the
// real-Graphite tests (`make test` sets it; scripts/install-deps installs
// systemd).
const requireEnv = "CDNMETRICS_REQUIRE_GRAPHITE"

// needTool returns the path of a program, skipping the test without it
// unless requireEnv=1.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s not found and %s=1 (scripts/install-deps installs it)", name, requireEnv)
		}
		t.Skipf("%s not found (set %s=1 to require it)", name, requireEnv)
	}
	return p
}

// makeInstall runs `make install` from the repository root with the
// variables given, building the binary into a temporary BIN so the
// working tree is left alone. Like the real-Graphite tests it is left out
// of `make unit` (-short).
func makeInstall(t *testing.T, vars ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("make install builds the binary: not under -short")
	}
	mk := needTool(t, "make")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"-s", "install", "BIN=" + filepath.Join(t.TempDir(), "cdnmetrics")}, vars...)
	cmd := exec.CommandContext(ctx, mk, args...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestMakeInstall installs into a staging DESTDIR and checks where each
// file lands, that an existing config is never overwritten, and that PREFIX
// moves the binary and the unit's ExecStart with it.
func TestMakeInstall(t *testing.T) {
	dest := t.TempDir()
	makeInstall(t, "DESTDIR="+dest)
	want := map[string]os.FileMode{
		"usr/local/bin/cdnmetrics":                       0o755,
		"etc/cdnmetrics/config.toml":                     0o644,
		"etc/systemd/system/cdnmetrics.service":          0o644,
		"usr/local/share/cdnmetrics/cdnmetrics.cron":     0o644,
		"usr/local/share/cdnmetrics/config.toml.example": 0o644,
	}
	for rel, mode := range want {
		fi, err := os.Stat(filepath.Join(dest, rel))
		if err != nil {
			t.Errorf("make install: %v", err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode().Perm(), mode)
		}
	}
	example := readRepoFile(t, "config.toml.example")
	cfg := filepath.Join(dest, "etc/cdnmetrics/config.toml")
	if got, _ := os.ReadFile(cfg); !bytes.Equal(got, example) {
		t.Errorf("installed config.toml is not config.toml.example")
	}

	// A second install (an upgrade) keeps the operator's config.
	mine := []byte("# the operator's own config\n")
	if err := os.WriteFile(cfg, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	out := makeInstall(t, "DESTDIR="+dest)
	if got, _ := os.ReadFile(cfg); !bytes.Equal(got, mine) {
		t.Errorf("make install overwrote an existing config.toml")
	}
	if !strings.Contains(out, "kept") {
		t.Errorf("make install did not say it kept the config:\n%s", out)
	}

	dest2 := t.TempDir()
	makeInstall(t, "DESTDIR="+dest2, "PREFIX=/opt/cdn")
	if _, err := os.Stat(filepath.Join(dest2, "opt/cdn/bin/cdnmetrics")); err != nil {
		t.Errorf("PREFIX=/opt/cdn: %v", err)
	}
	unit, err := os.ReadFile(filepath.Join(dest2, "etc/systemd/system/cdnmetrics.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecStart=/opt/cdn/bin/cdnmetrics run --config /etc/cdnmetrics/config.toml\n") {
		t.Errorf("PREFIX=/opt/cdn: unit's ExecStart not moved:\n%s", unit)
	}
	cron, _ := os.ReadFile(filepath.Join(dest2, "opt/cdn/share/cdnmetrics/cdnmetrics.cron"))
	if !strings.Contains(string(cron), "exec /opt/cdn/bin/cdnmetrics collect") {
		t.Errorf("PREFIX=/opt/cdn: cron example still names another binary:\n%s", cron)
	}
}

// unitSettings parses a systemd unit the way systemd does: a line starting
// with # or ; is a comment, everything after the first "=" of any other
// line is the value, trailing "# ..." included.
func unitSettings(unit string) map[string][]string {
	out := map[string][]string{}
	section := ""
	for _, l := range strings.Split(unit, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			section = strings.Trim(l, "[]")
		default:
			k, v, _ := strings.Cut(l, "=")
			out[section+"."+strings.TrimSpace(k)] = append(out[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// trailingComment is a value that carries what its writer meant as a
// comment: systemd would take it as part of the value (a path that does
// not exist, an argument nobody meant).
var trailingComment = regexp.MustCompile(`\s[#;]`)

// TestUnitFileSettings checks the shipped unit holds the settings README
// promises and that no value carries a trailing comment; the same for every
// ```ini (unit) snippet in README.
func TestUnitFileSettings(t *testing.T) {
	unit := string(readRepoFile(t, "scripts/cdnmetrics.service"))
	got := unitSettings(unit)
	for key, want := range map[string]string{
		"Service.User":            "cdnmetrics",
		"Service.ExecStart":       "/usr/local/bin/cdnmetrics run --config /etc/cdnmetrics/config.toml",
		"Service.EnvironmentFile": "-/etc/cdnmetrics/env",
		"Service.StateDirectory":  "cdnmetrics",
		"Service.Restart":         "on-failure",
		"Service.NoNewPrivileges": "yes",
		"Service.ProtectSystem":   "strict",
		"Service.ProtectHome":     "yes",
		"Install.WantedBy":        "multi-user.target",
	} {
		if v := got[key]; len(v) != 1 || v[0] != want {
			t.Errorf("scripts/cdnmetrics.service: %s = %q, want %q", key, v, want)
		}
	}
	snippets := []struct{ where, text string }{{"scripts/cdnmetrics.service", unit}}
	src := readRepoFile(t, "README.md")
	for _, f := range fences(src) {
		if f.lang == "ini" || f.lang == "systemd" {
			snippets = append(snippets, struct{ where, text string }{fmt.Sprintf("README.md:%d (```%s)", f.line, f.lang), f.body})
		}
	}
	for _, s := range snippets {
		for key, vals := range unitSettings(s.text) {
			for _, v := range vals {
				if trailingComment.MatchString(v) {
					t.Errorf("%s: %s=%s: systemd takes the trailing comment as part of the value; put the comment on a line of its own", s.where, key[strings.Index(key, ".")+1:], v)
				}
			}
		}
	}
}

// TestSystemdVerify installs into a staging DESTDIR and runs
// `systemd-analyze verify` on the unit (pointed at the staged binary:
// verify checks that ExecStart exists), failing on any complaint about it,
// and `systemd-analyze security --offline` to hold its exposure at "OK"
// (4.0 or below) so hardening is not lost in an edit.
func TestSystemdVerify(t *testing.T) {
	analyze := needTool(t, "systemd-analyze")
	dest := t.TempDir()
	makeInstall(t, "DESTDIR="+dest)
	unit, err := os.ReadFile(filepath.Join(dest, "etc/systemd/system/cdnmetrics.service"))
	if err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(dest, "usr/local/bin/cdnmetrics")
	const execStart = "\nExecStart=/usr/local/bin/cdnmetrics "
	if !bytes.Contains(unit, []byte(execStart)) {
		t.Fatalf("installed unit has no %q", execStart)
	}
	unit = bytes.Replace(unit, []byte(execStart), []byte("\nExecStart="+staged+" "), 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "cdnmetrics.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// verify exits 0 on unknown keys and bad values, only printing them;
	// lines about other units (the machine's own) are not ours.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, path) {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
	out, err = exec.CommandContext(ctx, analyze, "security", "--offline=true", "--threshold=40", path).CombinedOutput()
	if err != nil {
		// The table lists every check; the failed ones (✗) and the verdict say why.
		var why []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "✗") || strings.Contains(l, "Overall") || strings.Contains(l, path) {
				why = append(why, strings.TrimSpace(l))
			}
		}
		t.Errorf("systemd-analyze security: exposure above 4.0 (OK), or it failed: %v\n%s", err, strings.Join(why, "\n"))
	}
}

// TestCronExample checks that the cron line README shows is the one
// scripts/cdnmetrics.cron ships, and that it runs what the unit runs.
func TestCronExample(t *testing.T) {
	shipped := string(readRepoFile(t, "scripts/cdnmetrics.cron"))
	lines := map[string]bool{}
	for _, l := range strings.Split(shipped, "\n") {
		lines[l] = true
	}
	n := 0
	for _, f := range fences(readRepoFile(t, "README.md")) {
		if f.lang != "cron" {
			continue
		}
		for _, l := range strings.Split(strings.TrimRight(f.body, "\n"), "\n") {
			n++
			if !lines[l] {
				t.Errorf("README.md:%d: cron line is not in scripts/cdnmetrics.cron:\n%s", f.line, l)
			}
		}
	}
	if n == 0 {
		t.Error("README.md shows no ```cron block")
	}
	const cmd = "/usr/local/bin/cdnmetrics collect --config /etc/cdnmetrics/config.toml"
	if !strings.Contains(shipped, cmd) {
		t.Errorf("scripts/cdnmetrics.cron does not run %q", cmd)
	}
}
