// Package originlog counts, from the origin's own access logs, the requests
// each CDN sent to the origin: the origin-side truth to hold the vendors'
// reports against.
//
// Every CDN is configured to add an X-CDN-Provider header on its requests to
// the origin, and the origin logs it as one more quoted field after nginx's
// combined format (see DefaultPattern; any format works with a pattern of
// named groups). A line without the header ("-") counts as provider
// "direct".
//
// # What it emits
//
// Per provider and interval (step, default 60 s), as schema.Gauges at
// location "origin" (not Records: schema.Aggregate would add an "all"
// location repeating the same numbers):
//
//	<prefix>.<provider>.<service>.origin.origin_requests
//	<prefix>.<provider>.<service>.origin.origin_bytes   (body bytes: $body_bytes_sent)
//	<prefix>.<provider>.<service>.origin.status_2xx … status_5xx
//
// and, when [originlog.beacons] is set, failure-beacon hits per source as
// points <prefix>.beacons.<source>.failures. Lines are bucketed by their own
// logged time ($time_local: when nginx wrote the line, i.e. when the
// request ended), never by read time. The pipeline (internal/pipeline)
// compares these counts with a vendor's reported origin_requests.
//
// # Reading and state
//
// Each run reads what was appended since the last one, from cron
// (`collect`) or the daemon alike. The state file
// <state_dir>/originlog.state.json (written atomically, and locked so two
// runs never read at once) keeps per log file its device, inode, read
// offset and a fingerprint of its first 256 bytes, and the counts of
// the recent intervals. A torn last line is left for the next run. A
// rotation by rename is noticed by the inode and fingerprint: the rest of
// the old file (found open in the daemon, or as <path>.* / <path>-* with the
// same inode) is read first, then the new file from 0. A copytruncate is
// noticed by the file being shorter than the offset (or starting with other
// bytes): the tail is read from the copy when one beside it starts with the
// same bytes, then the file from 0. Lines that do not match are counted,
// logged at debug (the first 20 per file and run) and summarised; they are
// never fatal.
//
// # The re-emission rule
//
// A cron run sees only part of a minute, and a whisper point is
// overwritten by the next value sent for the same time. So the state file
// keeps the counts of every interval that ended less than `hold` (default
// 10 m) ago, and every run emits, for each interval that received lines in
// that run, its whole count so far, never the increment: a later re-send
// overwrites an earlier partial value with the larger full one. Intervals
// older than hold are forgotten and the watermark moves past them; a line
// stamped before the watermark would replace a complete count with a
// partial one, so it is dropped, logged as late and counted in
// rejected_too_old. The offsets and counts are saved only after the
// emitter accepted the batch, so a failed send
// re-reads the same lines next time and nothing is counted twice.
package originlog
