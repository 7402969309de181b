package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
)

// defaultSkylineQueue is skyline.DefaultQueue (a test keeps them equal):
// the config owns its sections' defaults without importing the feed.
const defaultSkylineQueue = 10000

// SkylineOptions is the [skyline] section: where and what the Skyline feed
// sends. With neither address set the feed is off. Its fields are those of
// skyline.Options, so the program hands it over by conversion.
type SkylineOptions struct {
	// PickleAddress is host:port of Horizon's pickle listener (usually port
	// 2024). Empty disables the TCP transport.
	PickleAddress string `toml:"pickle_address"`
	// UDPAddress is host:port of Horizon's MessagePack UDP listener (usually
	// port 2025). Empty disables the UDP transport.
	UDPAddress string `toml:"udp_address"`
	// Filter is a regular expression a point's path must match to be
	// forwarded. Empty forwards every point.
	Filter string `toml:"filter"`
	// Queue is the number of points each transport buffers before it drops.
	// By default, 10000.
	Queue int `toml:"queue"`
}

// Enabled reports whether any transport is configured.
func (o SkylineOptions) Enabled() bool { return o.PickleAddress != "" || o.UDPAddress != "" }

// Validate checks the addresses, the filter and the queue size, as
// skyline.New does, so `validate` refuses what the feed would refuse.
func (o SkylineOptions) Validate() error {
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
