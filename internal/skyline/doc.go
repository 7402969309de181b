// Package skyline forwards Graphite points to a Skyline Horizon listener, so
// that Skyline can run its own anomaly analysis beside Graphite.
//
// Two transports are supported, each optional: the pickle protocol over TCP
// (a 4-byte big-endian length, then a pickled list of
// (metric, (timestamp, value)) tuples; Horizon's default port 2024) and
// MessagePack over UDP (one datagram per point, the array
// [metric, [timestamp, value]], at most 1024 bytes, which is what Horizon's
// UDP listener reads; default port 2025).
//
// The feed never blocks its caller: each transport has a bounded queue and
// its own goroutine; when a queue is full the point is dropped and counted.
// The TCP transport reconnects with backoff and re-sends the batch it was
// writing when the connection failed.
package skyline
