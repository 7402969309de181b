package originlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Tailing and rotation: reading each log from where the last run stopped,
// finding the rotated copy of a file that moved, and holding the file a
// daemon last read open so a rename cannot lose its tail.

// fingerprint hashes the first min(fpMax, size) bytes of f.
func fingerprint(f *os.File, size int64) (int, uint64, error) {
	n := int64(fpMax)
	if size < n {
		n = size
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, err
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return int(n), h.Sum64(), nil
}

// sameStart reports whether f starts with the bytes prev was fingerprinted
// from.
func sameStart(f *os.File, prev *fileState) bool {
	if prev.FPLen == 0 {
		return true
	}
	n, sum, err := fingerprint(f, int64(prev.FPLen))
	return err == nil && n == prev.FPLen && sum == prev.FPSum
}

func (c *Collector) collectFile(ctx context.Context, lf *logFile, r *run) error {
	prev := r.st.Files[lf.path]
	f, err := os.Open(lf.path)
	if err != nil {
		if prev != nil && errors.Is(err, os.ErrNotExist) {
			// Renamed away and not yet re-created: keep reading the old
			// file where it went, and stay with it until the new appears.
			if old, oid, done := c.findOld(lf.path, prev, [2]uint64{}); old != nil {
				defer done()
				off, rerr := c.readLines(ctx, old, prev.Offset, false, lf, r)
				np := *prev
				np.Offset, np.Dev, np.Ino = off, oid[0], oid[1]
				r.st.Files[lf.path] = &np
				return rerr
			}
		}
		return fmt.Errorf("originlog: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("originlog: %w", err)
	}
	dev, ino := fileID(fi)
	size := fi.Size()
	fpLen, fpSum, err := fingerprint(f, size)
	if err != nil {
		f.Close()
		return fmt.Errorf("originlog: read %s: %w", lf.path, err)
	}

	var offset int64
	var errs []error
	switch {
	case prev == nil:
		if c.opts.StartAt == "end" {
			offset = lastLineEnd(f, size)
		}
	case prev.Dev == dev && prev.Ino == ino && size >= prev.Offset && sameStart(f, prev):
		offset = prev.Offset
	default:
		// The file at the path is not the one read last time: renamed away
		// (rotation by rename), truncated in place (copytruncate) or
		// replaced. Finish the old file's tail first, then this one from 0.
		old, _, done := c.findOld(lf.path, prev, [2]uint64{dev, ino})
		if old != nil {
			if _, err := c.readLines(ctx, old, prev.Offset, true, lf, r); err != nil {
				errs = append(errs, err)
			}
			c.log.Info("log rotated; read the rest of the old file", "file", lf.path, "old", old.Name())
			done()
		} else {
			c.log.Warn("log rotated and its old file was not found beside it; lines written after the last run and before the rotation are lost",
				"file", lf.path, "offset", prev.Offset)
		}
	}
	off, err := c.readLines(ctx, f, offset, false, lf, r)
	if err != nil {
		errs = append(errs, err)
	}
	r.st.Files[lf.path] = &fileState{Dev: dev, Ino: ino, Offset: off, FPLen: fpLen, FPSum: fpSum}
	c.hold1(lf.path, f, dev, ino)
	return errors.Join(errs...)
}

// hold1 keeps the file each path was last read from open, so a daemon can
// finish its tail after a rename even when the rotated copy is not named
// in a way findOld looks for.
func (c *Collector) hold1(path string, f *os.File, dev, ino uint64) {
	if h := c.held[path]; h != nil {
		if h.dev == dev && h.ino == ino && (dev != 0 || ino != 0) {
			f.Close()
			return
		}
		h.f.Close()
	}
	c.held[path] = &heldFile{f: f, dev: dev, ino: ino}
}

// findOld looks for the file prev describes after a rotation: the file this
// process still holds open, else a file named <path>.* or <path>-* with
// prev's inode (renamed) or, for a copytruncate copy, prev's first bytes and
// at least prev.Offset bytes. cur is the identity now at path. It returns
// the file, its identity and the function that releases it, or a nil file.
func (c *Collector) findOld(path string, prev *fileState, cur [2]uint64) (*os.File, [2]uint64, func()) {
	pid := [2]uint64{prev.Dev, prev.Ino}
	renamed := pid != cur && pid != [2]uint64{}
	if h := c.held[path]; h != nil && renamed && [2]uint64{h.dev, h.ino} == pid && sameStart(h.f, prev) {
		// Still open from the last run: readLines uses ReadAt, so the hold
		// needs no seeking and is released by hold1.
		return h.f, pid, func() {}
	}
	var cands []string
	for _, pat := range []string{path + ".*", path + "-*"} {
		m, _ := filepath.Glob(pat)
		cands = append(cands, m...)
	}
	sort.Strings(cands)
	var byContent *os.File
	var byContentID [2]uint64
	for i, name := range cands {
		if i >= 64 {
			break
		}
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		d, n := fileID(fi)
		id := [2]uint64{d, n}
		switch {
		case renamed && id == pid && sameStart(f, prev):
			if byContent != nil {
				byContent.Close()
			}
			return f, id, func() { f.Close() }
		case byContent == nil && id != cur && fi.Size() >= prev.Offset && prev.FPLen > 0 && sameStart(f, prev):
			byContent, byContentID = f, id
		default:
			f.Close()
		}
	}
	if byContent == nil {
		return nil, byContentID, func() {}
	}
	return byContent, byContentID, func() { byContent.Close() }
}

// lastLineEnd is the offset just after the last newline in f's first size
// bytes (looking back at most one read buffer), so a start at the end
// never begins inside a line.
func lastLineEnd(f *os.File, size int64) int64 {
	from := size - readBuf
	if from < 0 {
		from = 0
	}
	b := make([]byte, size-from)
	n, _ := f.ReadAt(b, from)
	if i := bytes.LastIndexByte(b[:n], '\n'); i >= 0 {
		return from + int64(i) + 1
	}
	return from
}

// readLines counts the complete lines of f from offset and returns the
// offset after the last complete line: a torn last line is left for the
// next run. With final (a rotated file that gets no more lines) a last line
// without a newline is counted too.
func (c *Collector) readLines(ctx context.Context, f *os.File, offset int64, final bool, lf *logFile, r *run) (int64, error) {
	if c.buf == nil {
		c.buf = make([]byte, readBuf)
	}
	buf := c.buf
	r.lines, r.unmatched, r.late, r.future, r.badBytes = 0, 0, 0, 0, 0
	defer c.logFileStats(lf.path, r)
	pos := offset // file offset of buf[0]
	have := 0     // bytes in buf
	skipping := false
	for {
		if err := ctx.Err(); err != nil {
			return pos, err
		}
		n, err := f.ReadAt(buf[have:], pos+int64(have))
		have += n
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return pos, fmt.Errorf("originlog: read %s: %w", lf.path, err)
		}
		start := 0
		for {
			i := bytes.IndexByte(buf[start:have], '\n')
			if i < 0 {
				break
			}
			if skipping {
				skipping = false
			} else {
				c.line(ctx, buf[start:start+i], lf, r)
			}
			start += i + 1
		}
		pos += int64(start)
		copy(buf, buf[start:have])
		have -= start
		if have == len(buf) {
			// A line longer than the buffer: drop it (counted once).
			if !skipping {
				c.unmatched(ctx, buf[:80], lf, r)
			}
			skipping = true
			pos += int64(have)
			have = 0
			continue
		}
		if eof || n == 0 {
			if final && have > 0 {
				if !skipping {
					c.line(ctx, buf[:have], lf, r)
				}
				pos += int64(have)
			}
			return pos, nil
		}
	}
}
