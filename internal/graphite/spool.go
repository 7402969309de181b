package graphite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A segment file is an 8-byte magic, then records. Segments are only
// appended to and every record is fsync'd before the batch counts as
// durable.
//
// Version 2 ("cdnspl2\n", written since issue #16) frames each record as
//
//	marker "\xff\xfeSR" | uint32 payload length | uint32 points (lines) |
//	uint32 points before this record in the segment | uint32 CRC-32C of payload |
//	uint32 CRC-32C of the 20 header bytes before it | payload
//
// (integers little-endian). Version 1 ("cdnspl1\n", still read) frames a
// record as uint32 payload length | uint32 CRC-32C of payload | payload.
// A payload is the plaintext lines of one batch.
//
// A record that fails its checks is skipped, not the rest of the segment:
// the reader resynchronises on the next offset where a whole record
// validates. Version 2 makes that exact and cheap: the marker holds 0xFF and
// 0xFE, bytes that valid UTF-8 never has, so in practice only a real header
// matches it, and a match must also pass the header CRC and the payload CRC
// (a false resync needs both 32-bit checks to pass by chance, about 2^-64);
// the points-before field gives the exact count of points lost in between
// even when the damaged header's own counts cannot be trusted. Version 1
// has no marker, so its reader tries every offset whose length is in range
// and whose payload CRC matches (about 2^-32 by chance). Line bytes are
// never in range (the length's 4th byte would have to be 0 or 1, and
// checkPoint refuses control bytes), so candidates are few: the headers
// and the damaged bytes. Its lost points are estimated from the newlines
// in the skipped bytes.
//
// A damaged magic loses nothing by itself: the reader looks for version 2
// records (by their markers), else version 1 records, from offset 8. Damage
// a new process finds in a segment left to it is counted at once, and the
// segment rewritten without it, so it is counted once (see adopt).
//
// A tail that stops inside a record (a crash during the write, which never
// returned the batch as durable) is cut as before and not counted; a damaged
// record the file holds in full is skipped and its points counted as
// corrupt.
const (
	segMagicV1 = "cdnspl1\n"
	segMagicV2 = "cdnspl2\n"
	magicLen   = 8
	recMarker  = "\xff\xfeSR"
	headerV1   = 8
	headerV2   = 24
	// maxRecord bounds one payload so a corrupt length cannot make the
	// reader allocate gigabytes; batches are at most 64 KiB.
	maxRecord = 16 << 20
	segSuffix = ".seg"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Why a record failed; any other error from the reader is an I/O error.
var (
	errTruncated = errors.New("truncated record")
	errTooLong   = errors.New("record length out of range")
	errHeader    = errors.New("record header damaged")
	errChecksum  = errors.New("record checksum mismatch")
)

func isFormatErr(err error) bool {
	return err == errTruncated || err == errTooLong || err == errHeader || err == errChecksum
}

// recHead describes one record.
type recHead struct {
	size   int64 // header and payload bytes
	points int64 // version 2: from the header; version 1: lines counted
	first  int64 // version 2: points before it in the segment; version 1: -1
}

func headerLen(version int) int64 {
	if version == 1 {
		return headerV1
	}
	return headerV2
}

// appendRecordV2 appends payload framed as a version 2 record holding
// points lines, first points after the start of its segment.
func appendRecordV2(b, payload []byte, points, first int64) []byte {
	var h [headerV2]byte
	copy(h[0:4], recMarker)
	binary.LittleEndian.PutUint32(h[4:8], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:12], uint32(points))
	binary.LittleEndian.PutUint32(h[12:16], uint32(first))
	binary.LittleEndian.PutUint32(h[16:20], crc32.Checksum(payload, crcTable))
	binary.LittleEndian.PutUint32(h[20:24], crc32.Checksum(h[:20], crcTable))
	return append(append(b, h[:]...), payload...)
}

// parseHeaderV2 checks a version 2 header; size is the payload length.
func parseHeaderV2(h []byte) (size, points, first int64, sum uint32, err error) {
	if string(h[0:4]) != recMarker || crc32.Checksum(h[:20], crcTable) != binary.LittleEndian.Uint32(h[20:24]) {
		return 0, 0, 0, 0, errHeader
	}
	size = int64(binary.LittleEndian.Uint32(h[4:8]))
	if size == 0 || size > maxRecord {
		return 0, 0, 0, 0, errTooLong
	}
	return size, int64(binary.LittleEndian.Uint32(h[8:12])), int64(binary.LittleEndian.Uint32(h[12:16])), binary.LittleEndian.Uint32(h[16:20]), nil
}

// readAt reads exactly len(p) bytes at off; a short file is errTruncated.
func readAt(f io.ReaderAt, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return errTruncated
	}
	return err
}

// readRecord reads the record at off of a segment whose data ends at end,
// reusing *buf for the payload (valid until the next call). On errChecksum
// the header is sound and h describes the record.
func readRecord(f io.ReaderAt, version int, off, end int64, buf *[]byte) (payload []byte, h recHead, err error) {
	hl := headerLen(version)
	if off+hl > end {
		return nil, h, errTruncated
	}
	var hb [headerV2]byte
	if err := readAt(f, hb[:hl], off); err != nil {
		return nil, h, err
	}
	var size int64
	var sum uint32
	h.first = -1
	if version == 1 {
		size = int64(binary.LittleEndian.Uint32(hb[0:4]))
		sum = binary.LittleEndian.Uint32(hb[4:8])
		if size == 0 || size > maxRecord {
			return nil, h, errTooLong
		}
	} else {
		size, h.points, h.first, sum, err = parseHeaderV2(hb[:])
		if err != nil {
			return nil, h, err
		}
	}
	h.size = hl + size
	if off+h.size > end {
		return nil, h, errTruncated
	}
	if int64(cap(*buf)) < size {
		*buf = make([]byte, size)
	}
	p := (*buf)[:size]
	if err := readAt(f, p, off+hl); err != nil {
		return nil, h, err
	}
	if version == 1 {
		h.points = int64(bytes.Count(p, []byte{'\n'}))
	}
	if crc32.Checksum(p, crcTable) != sum {
		return nil, h, errChecksum
	}
	return p, h, nil
}

// findRecord returns the first offset in [from, end) where a whole record
// validates, or -1; only I/O errors are returned.
func findRecord(f io.ReaderAt, version int, from, end int64, buf *[]byte) (int64, recHead, error) {
	const window = 64 << 10
	hl := headerLen(version)
	win := make([]byte, window+hl)
	for pos := from; pos+hl < end; pos += window {
		chunk := win[:min(int64(len(win)), end-pos)]
		if err := readAt(f, chunk, pos); err != nil {
			if err == errTruncated {
				return -1, recHead{}, nil // the file shrank under us
			}
			return -1, recHead{}, err
		}
		for i := 0; i < window && int64(i)+hl < int64(len(chunk)); i++ {
			h := chunk[i:]
			if version == 1 {
				// A cheap test first: a length in range and inside the file.
				size := int64(binary.LittleEndian.Uint32(h[0:4]))
				if size == 0 || size > maxRecord || pos+int64(i)+hl+size > end {
					continue
				}
			} else {
				j := bytes.IndexByte(h[:min(len(h), window-i)], recMarker[0])
				if j < 0 {
					break
				}
				i += j
				if int64(i)+hl >= int64(len(chunk)) {
					break
				}
				if _, _, _, _, err := parseHeaderV2(chunk[i : i+headerV2]); err != nil {
					continue
				}
			}
			_, rh, err := readRecord(f, version, pos+int64(i), end, buf)
			if err == nil {
				return pos + int64(i), rh, nil
			}
			if !isFormatErr(err) {
				return -1, recHead{}, err
			}
		}
	}
	return -1, recHead{}, nil
}

// countLines counts the newlines in [from, to) of f: the points a damaged
// stretch of a version 1 segment held, as far as can be told.
func countLines(f io.ReaderAt, from, to int64) (int64, error) {
	buf := make([]byte, min(to-from, 64<<10))
	var n int64
	for from < to {
		p := buf[:min(int64(len(buf)), to-from)]
		if err := readAt(f, p, from); err != nil {
			return n, err
		}
		n += int64(bytes.Count(p, []byte{'\n'}))
		from += int64(len(p))
	}
	return n, nil
}

// segment is one spool file.
type segment struct {
	id      uint64
	path    string
	version int   // record framing, 1 or 2
	size    int64 // bytes, magic included
	points  int64 // points not yet replayed (or skipped)
	written int64 // points appended to it (the next record's points-before)
}

// spool is a bounded FIFO of batches on disk. It is owned by the sink's
// goroutine and is not safe for concurrent use.
type spool struct {
	dir    string
	max    int64 // total bytes kept; the oldest segment goes beyond it
	segMax int64 // a new segment is started past this size
	log    *slog.Logger

	segs   []*segment // oldest first; the last one is the write segment
	w      *os.File   // open write segment (segs[len-1]) or nil
	r      *os.File   // open read segment (segs[0]) or nil
	roff   int64      // read offset in segs[0]
	rnext  int64      // version 2: points before the record at roff
	rhead  recHead    // the record peek returned last
	nextID uint64
	total  int64 // bytes on disk
	points int64 // points waiting

	dropped uint64 // points lost with dropped or unreadable segments (cumulative)
	corrupt uint64 // points lost in damaged records that were skipped (cumulative)
	buf     []byte // write scratch
	rbuf    []byte // read scratch
}

// openSpool opens (creating it if needed) the spool in dir and adopts the
// segments a previous process left, cutting a torn or damaged tail off each.
func openSpool(dir string, maxBytes int64, log *slog.Logger) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("graphite: spool: %w", err)
	}
	s := &spool{dir: dir, max: maxBytes, log: log, nextID: 1}
	s.segMax = min(max(maxBytes/4, 4<<10), 64<<20)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("graphite: spool: %w", err)
	}
	var ids []uint64
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		seg, err := s.adopt(id)
		if err != nil {
			return nil, err
		}
		if id >= s.nextID {
			s.nextID = id + 1
		}
		if seg != nil {
			s.segs = append(s.segs, seg)
			s.total += seg.size
			s.points += seg.points
		}
	}
	if s.points > 0 {
		log.Info("graphite spool found points from a previous run", "dir", dir, "segments", len(s.segs), "points", s.points, "bytes", s.total)
	}
	return s, nil
}

// adopt validates one existing segment, cutting a bad tail; it returns nil
// for a segment without records (which it removes). Damaged records inside
// the segment (and a damaged magic) are skipped, logged and counted as
// corrupt here, at the start, so the counters are final before this process
// reports anything, and they count as the previous process's points; the
// segment is then rewritten without them, so neither the replay nor a later
// process meets (and counts) the same damage again.
func (s *spool) adopt(id uint64) (*segment, error) {
	path := filepath.Join(s.dir, segName(id))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("graphite: spool: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("graphite: spool: %w", err)
	}
	var magic [magicLen]byte
	n, _ := io.ReadFull(f, magic[:])
	seg := &segment{id: id, path: path}
	end := st.Size()
	repair := false
	switch string(magic[:n]) {
	case segMagicV1:
		seg.version = 1
	case segMagicV2:
		seg.version = 2
	default:
		if n < magicLen && (string(magic[:n]) == segMagicV2[:n] || string(magic[:n]) == segMagicV1[:n]) {
			// Crash right after creating the file: nothing to keep.
			s.log.Warn("graphite spool removed empty segment", "file", path, "bytes", st.Size())
			return nil, os.Remove(path)
		}
		// A damaged magic: the records may be sound. Version 2 records
		// carry their own markers and checksums, so look for them first;
		// else for version 1 records.
		for _, v := range []int{2, 1} {
			next, _, err := findRecord(f, v, magicLen, end, &s.rbuf)
			if err != nil {
				return nil, fmt.Errorf("graphite: spool: read %s: %w", path, err)
			}
			if next >= 0 {
				seg.version = v
				break
			}
		}
		if seg.version == 0 {
			// Nothing readable: keep it for a human, count what it held.
			var lost int64
			if end > magicLen {
				if lost, err = countLines(f, magicLen, end); err != nil {
					return nil, fmt.Errorf("graphite: spool: read %s: %w", path, err)
				}
			}
			s.corrupt += uint64(lost)
			bad := path + ".bad"
			s.log.Error("graphite spool skipped segment with bad header", "file", path, "renamed", bad, "points", lost)
			return nil, os.Rename(path, bad)
		}
		s.log.Error("graphite spool segment header damaged; reading its records", "file", path, "version", seg.version)
		repair = true
	}
	if other := 3 - seg.version; !repair {
		// A magic damaged into the other version's (two bits apart):
		// the first record tells.
		if _, _, err := readRecord(f, seg.version, magicLen, end, &s.rbuf); isFormatErr(err) && err != errTruncated {
			if _, _, err := readRecord(f, other, magicLen, end, &s.rbuf); err == nil {
				s.log.Error("graphite spool segment header names the wrong version; reading its records", "file", path, "version", other)
				seg.version, repair = other, true
			}
		}
	}
	var good []int64 // offsets of the sound records
	off := int64(magicLen)
	for off < end {
		_, h, err := readRecord(f, seg.version, off, end, &s.rbuf)
		if err == nil {
			good = append(good, off)
			seg.points += h.points
			seg.written = max(seg.written, h.first+h.points)
			off += h.size
			continue
		}
		if !isFormatErr(err) {
			return nil, fmt.Errorf("graphite: spool: read %s: %w", path, err)
		}
		next, nh, ferr := findRecord(f, seg.version, off+1, end, &s.rbuf)
		if ferr != nil {
			return nil, fmt.Errorf("graphite: spool: read %s: %w", path, ferr)
		}
		if next >= 0 {
			lost, lerr := lostBetween(f, seg.version, off, next, seg.written, nh.first)
			if lerr != nil {
				return nil, fmt.Errorf("graphite: spool: read %s: %w", path, lerr)
			}
			s.corrupt += uint64(lost)
			s.log.Error("graphite spool skipped damaged record", "file", path, "offset", off, "bytes", next-off, "points", lost, "reason", err.Error())
			seg.written += lost
			repair = true
			off = next
			continue
		}
		if err := s.cutTail(f, seg, off, end, h, err); err != nil {
			return nil, err
		}
		break
	}
	seg.size = min(off, end)
	if seg.points == 0 {
		return nil, os.Remove(path)
	}
	if repair {
		if err := s.rewrite(f, seg, good); err != nil {
			return nil, err
		}
	}
	return seg, nil
}

// rewrite replaces seg's file by a version 2 copy of its sound records at
// good (offsets in f), through a temporary file renamed over it, so a
// crash leaves either the old or the new file.
func (s *spool) rewrite(f *os.File, seg *segment, good []int64) error {
	tmp := seg.path + ".tmp"
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("graphite: spool: %w", err)
	}
	fail := func(err error) error {
		w.Close()
		os.Remove(tmp)
		return fmt.Errorf("graphite: spool: rewrite %s: %w", seg.path, err)
	}
	if _, err := w.WriteString(segMagicV2); err != nil {
		return fail(err)
	}
	size, written := int64(magicLen), int64(0)
	for _, off := range good {
		p, h, err := readRecord(f, seg.version, off, seg.size, &s.rbuf)
		if err != nil {
			return fail(err)
		}
		s.buf = appendRecordV2(s.buf[:0], p, h.points, written)
		if _, err := w.Write(s.buf); err != nil {
			return fail(err)
		}
		size += int64(len(s.buf))
		written += h.points
	}
	if err := w.Sync(); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("graphite: spool: rewrite %s: %w", seg.path, err)
	}
	if err := os.Rename(tmp, seg.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("graphite: spool: rewrite %s: %w", seg.path, err)
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	seg.version, seg.size, seg.written, seg.points = 2, size, written, written
	return nil
}

// lostBetween is the number of points in the damaged bytes [off, next) of
// a segment: for version 2 the gap in the points-before of the records
// around it (wantFirst is what the record at off should have had), for
// version 1 the newlines in it.
func lostBetween(f io.ReaderAt, version int, off, next, wantFirst, nextFirst int64) (int64, error) {
	if version == 2 {
		return max(nextFirst-wantFirst, 0), nil
	}
	return countLines(f, off, next)
}

// cutTail truncates the segment at off, where the last good record ended
// and no good record follows. A record cut short by the end of the file is
// a write a crash interrupted: the batch was never reported durable, so
// nothing is counted. Anything else is a damaged record: its points (from
// its header when that is sound, else the newlines) are counted as corrupt.
func (s *spool) cutTail(f *os.File, seg *segment, off, end int64, h recHead, why error) error {
	if why == errTruncated {
		s.log.Warn("graphite spool cut torn segment tail", "file", seg.path, "offset", off, "cut_bytes", end-off)
	} else {
		lost := h.points
		if why != errChecksum || seg.version == 1 {
			var err error
			if lost, err = countLines(f, off, end); err != nil {
				return fmt.Errorf("graphite: spool: read %s: %w", seg.path, err)
			}
		}
		s.corrupt += uint64(lost)
		s.log.Error("graphite spool skipped damaged record", "file", seg.path, "offset", off, "bytes", end-off, "points", lost, "reason", why.Error())
	}
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("graphite: spool: truncate %s: %w", seg.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("graphite: spool: %w", err)
	}
	return nil
}

func segName(id uint64) string { return fmt.Sprintf("%020d%s", id, segSuffix) }

// empty reports whether nothing waits in the spool.
func (s *spool) empty() bool { return len(s.segs) == 0 }

// append writes one batch as a record and fsyncs it. When the spool then
// holds more than its maximum, the oldest segments are dropped.
func (s *spool) append(payload []byte, points int) error {
	if s.w == nil || s.segs[len(s.segs)-1].size >= s.segMax {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	seg := s.segs[len(s.segs)-1]
	s.buf = appendRecordV2(s.buf[:0], payload, int64(points), seg.written)
	if _, err := s.w.Write(s.buf); err != nil {
		// Cut a partial record so the segment stays appendable.
		_ = s.w.Truncate(seg.size)
		return fmt.Errorf("graphite: spool: write: %w", err)
	}
	if err := s.w.Sync(); err != nil {
		_ = s.w.Truncate(seg.size)
		return fmt.Errorf("graphite: spool: fsync: %w", err)
	}
	seg.size += int64(len(s.buf))
	seg.points += int64(points)
	seg.written += int64(points)
	s.total += int64(len(s.buf))
	s.points += int64(points)
	for s.total > s.max && len(s.segs) > 1 {
		s.dropOldest()
	}
	return nil
}

// rotate closes the write segment and starts a new one.
func (s *spool) rotate() error {
	if s.w != nil {
		_ = s.w.Close()
		s.w = nil
	}
	id := s.nextID
	path := filepath.Join(s.dir, segName(id))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("graphite: spool: %w", err)
	}
	if _, err := f.WriteString(segMagicV2); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("graphite: spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("graphite: spool: %w", err)
	}
	// The new name must survive a crash too.
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	s.nextID++
	s.w = f
	seg := &segment{id: id, path: path, version: 2, size: magicLen}
	s.segs = append(s.segs, seg)
	s.total += seg.size
	return nil
}

// dropOldest deletes the oldest segment and counts its unsent points.
func (s *spool) dropOldest() {
	seg := s.segs[0]
	s.closeReader()
	s.segs = s.segs[1:]
	s.total -= seg.size
	s.points -= seg.points
	s.dropped += uint64(seg.points)
	if err := os.Remove(seg.path); err != nil {
		s.log.Error("graphite spool could not remove dropped segment", "file", seg.path, "err", err)
	}
	s.log.Warn("graphite spool full: dropped oldest segment", "file", seg.path, "dropped_points", seg.points, "max_bytes", s.max)
}

func (s *spool) closeReader() {
	if s.r != nil {
		_ = s.r.Close()
		s.r = nil
	}
	s.roff, s.rnext = 0, 0
}

// peek returns the oldest unsent batch (valid until the next call) and its
// record length for ack; ok is false when the spool is empty. Damaged
// records on the way are skipped, logged and counted (skipDamaged).
func (s *spool) peek() (payload []byte, recLen int64, ok bool, err error) {
	for len(s.segs) > 0 {
		seg := s.segs[0]
		if s.r == nil {
			f, err := os.Open(seg.path)
			if err != nil {
				return nil, 0, false, fmt.Errorf("graphite: spool: %w", err)
			}
			s.r, s.roff, s.rnext = f, magicLen, 0
		}
		if s.roff >= seg.size {
			if len(s.segs) == 1 {
				// Fully replayed and nothing newer: start afresh.
				s.reset()
				return nil, 0, false, nil
			}
			s.removeHead()
			continue
		}
		p, h, err := readRecord(s.r, seg.version, s.roff, seg.size, &s.rbuf)
		if err == nil {
			s.rhead = h
			return p, h.size, true, nil
		}
		if !isFormatErr(err) {
			s.lostTail(seg, err)
			continue
		}
		s.skipDamaged(seg, h, err)
	}
	return nil, 0, false, nil
}

// skipDamaged moves the reader past the damaged record at roff to the next
// good one, or past the end of the segment, counting the points lost.
func (s *spool) skipDamaged(seg *segment, h recHead, why error) {
	next, nh, err := findRecord(s.r, seg.version, s.roff+1, seg.size, &s.rbuf)
	if err != nil {
		s.lostTail(seg, err)
		return
	}
	end, lost := next, seg.points
	if next < 0 {
		end = seg.size
	} else if lost, err = lostBetween(s.r, seg.version, s.roff, next, s.rnext, nh.first); err != nil {
		s.lostTail(seg, err)
		return
	}
	lost = min(lost, seg.points)
	s.log.Error("graphite spool skipped damaged record", "file", seg.path, "offset", s.roff, "bytes", end-s.roff, "points", lost, "reason", why.Error())
	s.corrupt += uint64(lost)
	seg.points -= lost
	s.points -= lost
	if next < 0 {
		s.roff = seg.size // the caller moves on to the next segment
		return
	}
	s.roff, s.rnext = next, nh.first
}

// ack marks the record peek returned as delivered.
func (s *spool) ack(recLen int64, points int) {
	s.roff += recLen
	s.rnext = s.rhead.first + s.rhead.points
	seg := s.segs[0]
	seg.points -= int64(points)
	s.points -= int64(points)
	if s.roff >= seg.size && len(s.segs) == 1 {
		s.reset()
	}
}

// lostTail handles a segment that cannot be read any more (an I/O error):
// the rest of it is given up and counted as dropped.
func (s *spool) lostTail(seg *segment, err error) {
	s.log.Error("graphite spool could not read segment, dropping its rest", "file", seg.path, "offset", s.roff, "dropped_points", seg.points, "err", err)
	s.dropped += uint64(seg.points)
	s.points -= seg.points
	seg.points = 0
	if len(s.segs) == 1 {
		s.reset()
		return
	}
	s.removeHead()
}

// removeHead deletes the fully read oldest segment.
func (s *spool) removeHead() {
	seg := s.segs[0]
	s.closeReader()
	s.segs = s.segs[1:]
	s.total -= seg.size
	s.points -= seg.points // 0 unless given up
	if err := os.Remove(seg.path); err != nil {
		s.log.Error("graphite spool could not remove replayed segment", "file", seg.path, "err", err)
	}
}

// reset removes every segment file once all were replayed.
func (s *spool) reset() {
	s.closeReader()
	if s.w != nil {
		_ = s.w.Close()
		s.w = nil
	}
	for _, seg := range s.segs {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Error("graphite spool could not remove replayed segment", "file", seg.path, "err", err)
		}
	}
	s.segs = nil
	s.total = 0
	s.points = 0
}

// close releases open files; segments stay for the next process.
func (s *spool) close() {
	s.closeReader()
	if s.w != nil {
		_ = s.w.Close()
		s.w = nil
	}
}
