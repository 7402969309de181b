package graphite

import (
	"bufio"
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

// Segment file layout: the 8-byte magic, then records of
//
//	uint32 little-endian payload length | uint32 little-endian CRC-32C of payload | payload
//
// where a payload is the plaintext lines of one batch. Segments are only
// appended to and every record is fsync'd before the batch counts as
// durable; a crash mid-record leaves a tail that fails the length or checksum
// test, and everything before it is kept.
const (
	segMagic    = "cdnspl1\n"
	frameHeader = 8
	// maxRecord bounds one payload so a corrupt length cannot make the
	// reader allocate gigabytes; batches are at most 64 KiB.
	maxRecord = 16 << 20
	segSuffix = ".seg"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Errors describing a bad segment tail.
var (
	errBadMagic  = errors.New("bad segment magic")
	errTruncated = errors.New("truncated record")
	errTooLong   = errors.New("record length out of range")
	errChecksum  = errors.New("record checksum mismatch")
)

// scanSegment reads records from r, which must be positioned after the
// magic, calling fn for each good payload (only valid during the call). It
// returns the byte length of the good records and why it stopped (nil at a
// clean end).
func scanSegment(r io.Reader, fn func(payload []byte)) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [frameHeader]byte
	var buf []byte
	var good int64
	for {
		n, err := io.ReadFull(br, hdr[:])
		if err == io.EOF {
			return good, nil
		}
		if err != nil {
			if n > 0 {
				return good, errTruncated
			}
			return good, err
		}
		size := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if size == 0 || size > maxRecord {
			return good, errTooLong
		}
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(br, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return good, errTruncated
			}
			return good, err
		}
		if crc32.Checksum(buf, crcTable) != sum {
			return good, errChecksum
		}
		good += frameHeader + int64(size)
		fn(buf)
	}
}

// decodeSegment parses a whole segment image: the payloads of its good
// records, the length of its good prefix (magic included) and why it
// stopped. A missing or wrong magic gives no records and a good length of 0.
func decodeSegment(data []byte) (records [][]byte, good int, err error) {
	if len(data) < len(segMagic) || string(data[:len(segMagic)]) != segMagic {
		if len(data) == 0 {
			return nil, 0, nil
		}
		return nil, 0, errBadMagic
	}
	n, err := scanSegment(bytes.NewReader(data[len(segMagic):]), func(p []byte) {
		records = append(records, append([]byte(nil), p...))
	})
	return records, len(segMagic) + int(n), err
}

// appendRecord appends the framed payload to b.
func appendRecord(b, payload []byte) []byte {
	var hdr [frameHeader]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(payload, crcTable))
	return append(append(b, hdr[:]...), payload...)
}

// segment is one spool file.
type segment struct {
	id     uint64
	path   string
	size   int64 // bytes, magic included
	points int64 // points not yet replayed
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
	nextID uint64
	total  int64 // bytes on disk
	points int64 // points waiting

	dropped uint64 // points lost with dropped segments (cumulative)
	buf     []byte // write scratch
	rbuf    []byte // read scratch
}

// openSpool opens (creating it if needed) the spool in dir and adopts the
// segments a previous process left, cutting a corrupt tail off each.
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

// adopt validates one existing segment, truncating a bad tail; it returns
// nil for a segment without records (which it removes).
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
	var magic [len(segMagic)]byte
	if n, _ := io.ReadFull(f, magic[:]); n < len(magic) || string(magic[:]) != segMagic {
		if n == 0 || string(magic[:n]) == segMagic[:n] {
			// Crash right after creating the file: nothing to keep.
			s.log.Warn("graphite spool removed empty segment", "file", path, "bytes", st.Size())
			return nil, os.Remove(path)
		}
		// Not ours (or damaged beyond use): keep it for a human, skip it.
		bad := path + ".bad"
		s.log.Error("graphite spool skipped segment with bad header", "file", path, "renamed", bad)
		return nil, os.Rename(path, bad)
	}
	seg := &segment{id: id, path: path}
	good, serr := scanSegment(f, func(p []byte) { seg.points += int64(bytes.Count(p, []byte{'\n'})) })
	seg.size = int64(len(segMagic)) + good
	if serr != nil {
		s.log.Warn("graphite spool cut corrupt segment tail", "file", path, "kept_bytes", seg.size, "cut_bytes", st.Size()-seg.size, "reason", serr.Error())
		if err := f.Truncate(seg.size); err != nil {
			return nil, fmt.Errorf("graphite: spool: truncate %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("graphite: spool: %w", err)
		}
	}
	if seg.points == 0 {
		return nil, os.Remove(path)
	}
	return seg, nil
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
	s.buf = appendRecord(s.buf[:0], payload)
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
	if _, err := f.WriteString(segMagic); err != nil {
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
	seg := &segment{id: id, path: path, size: int64(len(segMagic))}
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
	s.roff = 0
}

// peek returns the oldest unsent batch (valid until the next call) and its
// record length for ack; ok is false when the spool is empty.
func (s *spool) peek() (payload []byte, recLen int64, ok bool, err error) {
	for len(s.segs) > 0 {
		seg := s.segs[0]
		if s.r == nil {
			f, err := os.Open(seg.path)
			if err != nil {
				return nil, 0, false, fmt.Errorf("graphite: spool: %w", err)
			}
			s.r, s.roff = f, int64(len(segMagic))
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
		var hdr [frameHeader]byte
		if _, err := s.r.ReadAt(hdr[:], s.roff); err != nil {
			s.lostTail(seg, err)
			continue
		}
		size := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		if size == 0 || size > maxRecord || s.roff+frameHeader+size > seg.size {
			s.lostTail(seg, errTooLong)
			continue
		}
		if int64(cap(s.rbuf)) < size {
			s.rbuf = make([]byte, size)
		}
		p := s.rbuf[:size]
		if _, err := s.r.ReadAt(p, s.roff+frameHeader); err != nil {
			s.lostTail(seg, err)
			continue
		}
		if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
			s.lostTail(seg, errChecksum)
			continue
		}
		return p, frameHeader + size, true, nil
	}
	return nil, 0, false, nil
}

// ack marks the record peek returned as delivered.
func (s *spool) ack(recLen int64, points int) {
	s.roff += recLen
	seg := s.segs[0]
	seg.points -= int64(points)
	s.points -= int64(points)
	if s.roff >= seg.size && len(s.segs) == 1 {
		s.reset()
	}
}

// lostTail handles a record that went bad on disk after it was written:
// the rest of the segment is given up and counted as dropped.
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
