package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// backfillNow is the clock of backfill (tests move it).
var backfillNow = time.Now

// backfillResumeWithin is how long an unfinished backfill whose arguments
// now resolve to a different window (relative ones: --from -1d, --to now)
// is resumed. Past it, the same command means "the last day from now"
// again and starts a new backfill.
const backfillResumeWithin = 24 * time.Hour

// backfillArgs are the arguments of one collector's backfill exactly as
// the user typed them: rerunning the same command finds the same progress
// file whatever the clock says.
type backfillArgs struct {
	Collector string `json:"collector"`
	From      string `json:"from"`
	To        string `json:"to"`
	Service   string `json:"service,omitempty"`
	Shard     string `json:"shard,omitempty"`
}

// file is the progress file's name: the collector (to be found by eye)
// and a hash of every argument (to be exact).
func (a backfillArgs) file() string {
	data, _ := json.Marshal(a) // strings only: cannot fail
	sum := sha256.Sum256(data)
	return schema.Sanitize(a.Collector) + "-" + hex.EncodeToString(sum[:8]) + ".json"
}

// backfillRecord is one backfill's progress file: its arguments, the
// window they resolved to on its first run (kept, so "-1d" is resolved
// once), and how far it got.
type backfillRecord struct {
	Args  backfillArgs `json:"args"`
	Start time.Time    `json:"start"`
	End   time.Time    `json:"end"`
	// Done is the end of the last chunk whose points were flushed to the
	// sink (sent or spooled); Start before the first.
	Done    time.Time `json:"done"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func (r *backfillRecord) window() collectors.Window {
	return collectors.Window{Start: r.Start, End: r.End}
}
func (r *backfillRecord) complete() bool { return !r.Done.Before(r.End) }

// backfillResume reads and writes the progress files under one directory.
type backfillResume struct {
	dir string
}

func (b backfillResume) path(a backfillArgs) string { return filepath.Join(b.dir, a.file()) }

// load returns the record of args; ok is false when there is none. A file
// that does not parse, or holds other arguments, is an error naming it.
func (b backfillResume) load(a backfillArgs) (rec backfillRecord, ok bool, err error) {
	p := b.path(a)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, false, fmt.Errorf("progress file %s is corrupt: %v", p, err)
	}
	if rec.Args != a || !rec.End.After(rec.Start) || rec.Done.Before(rec.Start) || rec.Done.After(rec.End) {
		return rec, false, fmt.Errorf("progress file %s does not hold a backfill of these arguments", p)
	}
	return rec, true, nil
}

func (b backfillResume) save(rec backfillRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(b.path(rec.Args), data, 0o640)
}

// plan decides what this run of a backfill does, given the window the
// arguments resolve to now (fresh) and the progress file, if any:
//   - no file: a new backfill of fresh;
//   - unfinished: resumed at its Done, over the window resolved on its
//     first run, when that window is fresh (absolute arguments) or the
//     file was written within backfillResumeWithin; otherwise a new one;
//   - finished: nothing to do when its window is fresh (absolute
//     arguments); otherwise (relative ones) a new backfill of fresh.
//
// A progress file that cannot be read is reported in note and replaced:
// collecting a window again only overwrites the same points.
// resumed says an unfinished backfill goes on; note is a line for the log
// when an existing file is not resumed (empty for a plain new backfill).
func (b backfillResume) plan(a backfillArgs, fresh collectors.Window, now time.Time) (rec backfillRecord, resumed bool, note string) {
	old, ok, err := b.load(a)
	newRec := backfillRecord{Args: a, Start: fresh.Start, End: fresh.End, Done: fresh.Start, Created: now, Updated: now}
	switch {
	case err != nil:
		return newRec, false, fmt.Sprintf("%v; starting over", err)
	case !ok:
		return newRec, false, ""
	case old.complete() && sameWindow(old.window(), fresh):
		return old, false, ""
	case old.complete():
		return newRec, false, fmt.Sprintf("the last backfill of these arguments (%s) is complete; starting a new one", old.window())
	case sameWindow(old.window(), fresh) || now.Sub(old.Updated) <= backfillResumeWithin:
		return old, true, ""
	default:
		return newRec, false, fmt.Sprintf("the backfill of these arguments stopped at %s and has not moved for %v; starting a new one",
			old.Done.UTC().Format(time.RFC3339), now.Sub(old.Updated).Round(time.Minute))
	}
}

func sameWindow(a, b collectors.Window) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) }
