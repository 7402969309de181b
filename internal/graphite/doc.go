// Package graphite is the sink: it takes schema.Points from collectors and
// delivers them to carbon's plaintext protocol ("path value timestamp\n").
//
// TCPSink owns the carbon connection in one goroutine and is fed through a
// bounded queue. It writes through github.com/marpaia/graphite-golang, adding
// what that library lacks: write deadlines, detection of a peer that closed
// (carbon restarts), reconnects with backoff, re-sending of every batch that
// may have been lost, and an optional on-disk spool that keeps points while
// carbon is away and replays them in order, also after a process restart.
// Delivery is at least once; re-sends are harmless because whisper keeps the
// last value written for a timestamp.
//
// Points that carbon does not take within the retry window and the spool
// refuses (full disk) or cannot take (no spool) are held in memory, bounded
// by the queue size, and retried to both; carbon coming back delivers them
// whatever the disk does. Flush fails after the flush timeout naming the
// cause, so callers never move a checkpoint past points that are neither in
// carbon nor on disk; Close counts what it could not place as lost.
//
// WriterSink (dry-run) prints the exact lines; it implements Sink too.
package graphite
