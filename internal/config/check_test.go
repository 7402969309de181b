package config

import (
	"strings"
	"testing"
)

func withSchedule(spec string) string {
	return strings.Replace(good, `schedule = "*/5 * * * *"`, `schedule = "`+spec+`"`, 1)
}

// Schedules are read with the daemon's parser: what it would refuse or
// silently change is refused here, on the schedule's line.
func TestSchedulesRefused(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"", "empty"},
		{"@every 0s", "below the minimum of 1s"},
		{"@every -5s", "below the minimum of 1s"},
		{"@every 999ms", "below the minimum of 1s"},
		{"@every 1500ms", "whole seconds"},
		{"TZ=UTC", "time zone must be followed by a schedule"}, // cron/v3 panics on it
		{"CRON_TZ=Mars/Olympus */5 * * * *", "bad location"},
		{"0 0 30 2 *", "never fires"},
		{"every tuesday", "invalid cron spec"},
	}
	for _, c := range cases {
		_, probs := Parse("x.toml", []byte(withSchedule(c.spec)), env("TESTCDN_TOKEN", "t"))
		errs := probs.Errors()
		if len(errs) != 1 || errs[0].Key != "testcdn.schedule" || errs[0].Line != 8 || !strings.Contains(errs[0].Message, c.want) {
			t.Errorf("schedule %q: want one error on testcdn.schedule at line 8 saying %q, got %v", c.spec, c.want, probs)
		}
	}
	for _, spec := range []string{"@every 1s", "@every 90s", "@hourly", "CRON_TZ=Europe/Paris 0 3 * * *", "0 0 29 2 *"} {
		if _, probs := Parse("x.toml", []byte(withSchedule(spec)), env("TESTCDN_TOKEN", "t")); len(probs) != 0 {
			t.Errorf("schedule %q: %v", spec, probs)
		}
	}
}

// Addresses are refused when the code that uses them would refuse them at
// start (or, for a dialled address, at every attempt).
func TestAddressesRefused(t *testing.T) {
	cases := []struct{ text, key string }{
		{"[graphite]\naddress = \"127.0.0.1:notaport\"\n", "graphite.address"},
		{"[graphite]\naddress = \":99999\"\n", "graphite.address"},
		{"[graphite]\naddress = \"127.0.0.1:0\"\n", "graphite.address"},
		{"[hook]\nlisten = \":99999\"\nsecret_env = \"H\"\n", "hook.listen"},
		{"[hook]\nlisten = \"127.0.0.1:http\"\nsecret_env = \"H\"\n", "hook.listen"},
		{"[skyline]\npickle_address = \"h:notaport\"\n", "skyline.pickle_address"},
		{"[skyline]\nudp_address = \"h:70000\"\n", "skyline.udp_address"},
		{"[events]\ngraphite_web_urls = [\"http://h\"]\npassword_env = \"H\"\n", "events.password_env"},
	}
	for _, c := range cases {
		_, probs := Parse("x.toml", []byte(c.text), env("H", "x"))
		errs := probs.Errors()
		if len(errs) != 1 || errs[0].Key != c.key || errs[0].Line == 0 {
			t.Errorf("%q: want one error on %s with its line, got %v", c.text, c.key, probs)
		}
	}
	for _, text := range []string{"[graphite]\naddress = \":2003\"\n", "[graphite]\naddress = \"[::1]:2003\"\n", "[hook]\nlisten = \"127.0.0.1:9105\"\nsecret_env = \"H\"\n"} {
		if _, probs := Parse("x.toml", []byte(text), env("H", "x")); len(probs) != 0 {
			t.Errorf("%q: %v", text, probs)
		}
	}
}

// A type error stops the decoding of its section: the keys after it are
// left undecoded but are not unknown, so the type error is the only error,
// on its own key and line.
func TestTypeErrorIsReportedOnce(t *testing.T) {
	cases := []struct {
		name, text, key string
		line            int
	}{
		{"collector", strings.Replace(good, `token_env = "TESTCDN_TOKEN"`, `token_env = 4`, 1), "testcdn.token_env", 7},
		{"core section", "[graphite]\nqueue_size = \"four\"\nprefix = \"cdn\"\nwrite_timeout = \"5s\"\n", "graphite.queue_size", 2},
		{"core duration", "[graphite]\nwrite_timeout = \"soon\"\nprefix = \"cdn\"\n", "graphite.write_timeout", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, probs := Parse("x.toml", []byte(c.text), env("TESTCDN_TOKEN", "t"))
			if len(probs) != 1 || probs[0].Key != c.key || probs[0].Line != c.line {
				t.Fatalf("want one problem on %s at line %d, got %v", c.key, c.line, probs)
			}
		})
	}
	// A typo in another section is still reported.
	_, probs := Parse("x.toml", []byte("[graphite]\nqueue_size = \"four\"\n[hook]\nlisen = \"x\"\n"), env())
	if len(probs) != 2 || probs[1].Key != "hook.lisen" {
		t.Fatalf("want the type error and hook.lisen, got %v", probs)
	}
}
