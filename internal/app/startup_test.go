package app

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// runFor runs the command with a deadline, so that a daemon which wrongly
// starts still ends.
func runFor(t *testing.T, d time.Duration, args ...string) (code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "FAKECDN_TOKEN" {
			return secret
		}
		return ""
	}
	code = Main(ctx, args, IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
	return code, errb.String()
}

// problemLine is the line of out that names key.
func problemLine(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ": "+key+": ") {
			return l
		}
	}
	return ""
}

// Every config run (or collect) refuses before it touches the network is
// refused by validate, with the same line: both go through config.Load and
// checkStartup.
func TestValidateRefusesWhatRunRefuses(t *testing.T) {
	cases := []struct {
		name, carbon, extra, key string
	}{
		{"port not a number", "127.0.0.1:notaport", "", "graphite.address"},
		{"port out of range", ":99999", "", "graphite.address"},
		{"empty schedule", "127.0.0.1:1", "schedule = \"\"\n", "fakecdn.schedule"},
		{"every 0s", "127.0.0.1:1", "schedule = \"@every 0s\"\n", "fakecdn.schedule"},
		{"every -5s", "127.0.0.1:1", "schedule = \"@every -5s\"\n", "fakecdn.schedule"},
		{"hook port out of range", "127.0.0.1:1", "[hook]\nlisten = \"127.0.0.1:99999\"\nsecret_env = \"FAKECDN_TOKEN\"\n", "hook.listen"},
		{"skyline port", "127.0.0.1:1", "[skyline]\npickle_address = \"127.0.0.1:notaport\"\n", "skyline.pickle_address"},
		{"events password without user", "127.0.0.1:1", "[events]\ngraphite_web_urls = [\"http://127.0.0.1:1\"]\npassword_env = \"FAKECDN_TOKEN\"\n", "events.password_env"},
		{"collector refuses to build", "127.0.0.1:1", "refuse_new = \"no such account\"\n", "fakecdn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := writeConfig(t, c.carbon, c.extra)
			code, verrs := runFor(t, 10*time.Second, "validate", "--config", cfg)
			want := problemLine(verrs, c.key)
			if code != 2 || want == "" {
				t.Fatalf("validate: exit %d, want 2 with a line naming %s:\n%s", code, c.key, verrs)
			}
			for _, cmd := range []string{"run", "collect"} {
				code, rerrs := runFor(t, 3*time.Second, cmd, "--config", cfg)
				if code != 2 || !strings.Contains(rerrs, want+"\n") {
					t.Errorf("%s: exit %d, want 2 and the line %q validate printed; got:\n%s", cmd, code, want, rerrs)
				}
			}
		})
	}
}

func TestScheduleBelowOneSecondNamesTheMinimum(t *testing.T) {
	for _, spec := range []string{"@every 0s", "@every -5s", "@every 500ms"} {
		cfg := writeConfig(t, "127.0.0.1:1", fmt.Sprintf("schedule = %q\n", spec))
		code, errs := runFor(t, 10*time.Second, "validate", "--config", cfg)
		if line := problemLine(errs, "fakecdn.schedule"); code != 2 || !strings.Contains(line, "minimum of 1s") {
			t.Errorf("%s: exit %d, want 2 and the minimum named:\n%s", spec, code, errs)
		}
	}
}

// A type error stops the decoding of its section; the keys after it are
// not unknown and must not be reported as such.
func TestTypeErrorIsTheOnlyError(t *testing.T) {
	cfg := writeConfig(t, "127.0.0.1:1", "fail_at = \"four\"\nschedule = \"@every 1m\"\nrefuse_new = \"\"\n")
	code, errs := runFor(t, 10*time.Second, "validate", "--config", cfg)
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "fakecdn.fail_at") || !strings.HasSuffix(lines[1], ": 1 error(s)") {
		t.Fatalf("want exactly the type error of fakecdn.fail_at and a count of 1, got:\n%s", errs)
	}
}

// A hook that cannot bind its port ends the daemon at start, naming the
// address, instead of a daemon running without its hook.
func TestRunFailsWhenHookPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	cfg := writeConfig(t, "127.0.0.1:1", fmt.Sprintf("[hook]\nlisten = %q\nsecret_env = \"FAKECDN_TOKEN\"\n", addr))
	start := time.Now()
	code, errs := runFor(t, 5*time.Second, "run", "--config", cfg)
	if code == 0 || !strings.Contains(errs, "hook.listen") || !strings.Contains(errs, addr) {
		t.Fatalf("run: exit %d, want non-zero and a message naming hook.listen %s:\n%s", code, addr, errs)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatalf("run took %v to refuse: it started before binding", time.Since(start))
	}
}
