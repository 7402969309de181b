package skyline

import (
	"errors"
	"fmt"
	"net"
	"regexp"
)

// Defaults for Options.
const (
	DefaultQueue = 10000
	DefaultBatch = 500
	MaxDatagram  = 1024 // Horizon reads UDP with recvfrom(1024)
)

// Options configures the feed; it is the [skyline] section of the config
// file. With neither address set the feed is off.
type Options struct {
	// PickleAddress is host:port of Horizon's pickle listener (usually port
	// 2024). Empty disables the TCP transport.
	PickleAddress string `toml:"pickle_address"`
	// UDPAddress is host:port of Horizon's MessagePack UDP listener (usually
	// port 2025). Empty disables the UDP transport.
	UDPAddress string `toml:"udp_address"`
	// Filter is a regular expression a point's path must match to be
	// forwarded, e.g. `\.ratio\.` or `hit_ratio$`. Empty forwards every
	// point.
	Filter string `toml:"filter"`
	// Queue is the number of points each transport buffers before it drops.
	// By default, 10000.
	Queue int `toml:"queue"`
}

// DefaultOptions returns the options with every default filled in and both
// transports off.
func DefaultOptions() Options {
	return Options{Queue: DefaultQueue}
}

// Enabled reports whether any transport is configured.
func (o Options) Enabled() bool { return o.PickleAddress != "" || o.UDPAddress != "" }

// Validate checks the addresses, the filter and the queue size.
func (o Options) Validate() error {
	var errs []error
	for name, addr := range map[string]string{"pickle_address": o.PickleAddress, "udp_address": o.UDPAddress} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("skyline: %s %q: %w", name, addr, err))
		}
	}
	if _, err := regexp.Compile(o.Filter); err != nil {
		errs = append(errs, fmt.Errorf("skyline: filter: %w", err))
	}
	if o.Queue < 1 {
		errs = append(errs, fmt.Errorf("skyline: queue must be at least 1, got %d", o.Queue))
	}
	return errors.Join(errs...)
}
