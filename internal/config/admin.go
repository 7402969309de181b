package config

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// DefaultAdminListen is where `run` serves /healthz and /metrics unless
// [admin] listen says otherwise.
const DefaultAdminListen = "127.0.0.1:9107"

// Admin is the [admin] section: the daemon's /healthz and /metrics.
type Admin struct {
	// Listen is the address of the admin endpoints; empty disables them.
	Listen string `toml:"listen"`
}

// adminProblems checks [admin] listen with the parsing the hook's address
// gets. The endpoints need no secret but tell anyone who reaches them how
// the daemon fares: an address beyond loopback is a warning (a private
// interface behind a firewall can be meant), the hook's own address an
// error (the endpoints never share the hook's listener).
func (c *Config) adminProblems() []collectors.Problem {
	a := c.Admin.Listen
	if a == "" {
		return nil
	}
	if err := checkHostPort(a); err != nil {
		return []collectors.Problem{{Key: "admin.listen", Message: err.Error()}}
	}
	var ps []collectors.Problem
	if c.Hook.Listen != "" && sameListenAddr(a, c.Hook.Listen) {
		ps = append(ps, collectors.Problem{Key: "admin.listen", Message: fmt.Sprintf("%q is also hook.listen: the admin endpoints never share the hook's listener; give each its own port", a)})
	}
	if !isLoopback(a) {
		ps = append(ps, collectors.Problem{Key: "admin.listen", Warning: true,
			Message: fmt.Sprintf("%q is not a loopback address: /healthz and /metrics (unauthenticated) are reachable from other hosts; prefer 127.0.0.1 or firewall the port", a)})
	}
	return ps
}

// isLoopback reports a host:port whose host is a loopback IP or
// "localhost". An empty host (":9107") listens on every interface.
func isLoopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// sameListenAddr reports two listen addresses that would collide: the
// same port on the same host, or on a wildcard host (which takes the port
// on every interface).
func sameListenAddr(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}
