package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
)

// The checks here make validate refuse what run and collect would refuse:
// each calls the function the running program parses the value with
// (graphite.ParseAddress, scheduler.ParseSchedule), or checks the value as
// strictly as the code that uses it.

// checkStartup checks the core values that are parsed only when the
// program starts its parts.
func (c *Config) checkStartup() []collectors.Problem {
	var ps []collectors.Problem
	bad := func(key string, err error) { ps = append(ps, collectors.Problem{Key: key, Message: err.Error()}) }
	if _, _, err := graphite.ParseAddress(c.Graphite.Address); err != nil {
		bad("graphite.address", err)
	}
	if c.Hook.Listen != "" {
		if err := checkHostPort(c.Hook.Listen); err != nil {
			bad("hook.listen", err)
		}
	}
	// SkylineOptions.Validate reports what is not host:port; here the port, which
	// the feed would only find out when it dials.
	if c.Skyline.Validate() == nil {
		for _, a := range [...]struct{ key, addr string }{{"skyline.pickle_address", c.Skyline.PickleAddress}, {"skyline.udp_address", c.Skyline.UDPAddress}} {
			key, addr := a.key, a.addr
			if addr == "" {
				continue
			}
			if err := checkHostPort(addr); err != nil {
				bad(key, err)
			}
		}
	}
	if len(c.Events.GraphiteWebURLs) > 0 && c.Events.PasswordEnv != "" && c.Events.Username == "" {
		// events.New refuses it when the daemon or `event` starts.
		bad("events.password_env", errors.New("is set but events.username is empty: basic auth needs both"))
	}
	return ps
}

// checkSchedule checks a collector's schedule with the daemon's own
// parser. Every collector's schedule is checked, also the streaming ones',
// so that a schedule is valid whichever command reads it.
func checkSchedule(c Collector) *collectors.Problem {
	if _, err := scheduler.ParseSchedule(c.Options.Schedule()); err != nil {
		return &collectors.Problem{Key: c.Name + ".schedule", Message: err.Error()}
	}
	return nil
}

// checkHostPort checks an address the program listens on or dials:
// host:port with a numeric port in 1–65535 (a port name or 0 would be
// accepted by net but is never what a config means).
func checkHostPort(addr string) error {
	_, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if port, err := strconv.Atoi(portS); err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("%q: port %q is not a number in 1-65535", addr, portS)
	}
	return nil
}

// tomlKeyError is how BurntSushi/toml words a type mismatch: a plain error,
// not a ParseError, that names the line and the key.
var tomlKeyError = regexp.MustCompile(`toml: (?:line (\d+) )?\(last key "([^"]+)"\): (.*)$`)

// decodeProblem turns a decoding error of section into a problem placed on
// the key that failed, when the TOML library says which; else on the
// section at line.
func decodeProblem(section string, err error, line int) (key string, msg string, at int) {
	var pe toml.ParseError
	if errors.As(err, &pe) && pe.LastKey != "" {
		return pe.LastKey, pe.Message, pe.Position.Line
	}
	if m := tomlKeyError.FindStringSubmatch(err.Error()); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			line = n
		}
		return m[2], m[3], line
	}
	return section, err.Error(), line
}
