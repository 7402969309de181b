package graphite

import (
	"fmt"
	"net"
	"strconv"
)

// ParseAddress reads carbon's plaintext address "host:port" as New uses
// it: the port a number in 1–65535, an empty host meaning 127.0.0.1. It is
// also what validate checks graphite.address with, so the two agree.
func ParseAddress(addr string) (host string, port int, err error) {
	host, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q is not host:port", addr)
	}
	port, err = strconv.Atoi(portS)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: port %q is not a number in 1-65535", addr, portS)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}
