package e2e

// The soak test's look at files on disk, written from the documented
// formats and not with the code under test: the spool's records (to damage
// one and know exactly which points it held) and whisper's points (to find
// any stamped in the future, which graphite-web never renders).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// spoolRecord is one record found in a spool segment.
type spoolRecord struct {
	file    string
	off     int64 // offset of the payload in the file
	payload []byte
}

// spoolLine is one plaintext line of a spooled payload.
type spoolLine struct {
	path string
	v    float64
	ts   int64
}

// lines parses the payload's plaintext lines ("path value time\n").
func (r spoolRecord) lines() []spoolLine {
	var out []spoolLine
	for _, l := range strings.Split(strings.TrimSuffix(string(r.payload), "\n"), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		v, err1 := strconv.ParseFloat(f[1], 64)
		ts, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			out = append(out, spoolLine{f[0], v, ts})
		}
	}
	return out
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// spoolRecords finds the records of a spool segment by their framing
// alone, as internal/graphite/spool.go documents it (integers
// little-endian, CRC-32C): version 1 "uint32 payload length | uint32 CRC
// of payload | payload"; version 2 "marker \xff\xfeSR | uint32 payload
// length | uint32 points | uint32 points before | uint32 CRC of payload |
// uint32 CRC of the header | payload"; a payload is plaintext lines. It
// tries both at every offset (not trusting the segment's magic), so it
// reads whichever version the sink under test writes.
func spoolRecords(path string) ([]spoolRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// frame reports the payload framed at offset o with the length at
	// lenAt, the CRC at crcAt and the payload at payAt (offsets from o).
	frame := func(o, lenAt, crcAt, payAt int) (p []byte, ok bool) {
		if o+payAt > len(b) {
			return nil, false
		}
		n := int(binary.LittleEndian.Uint32(b[o+lenAt:]))
		if n <= 0 || n > len(b)-o-payAt {
			return nil, false
		}
		p = b[o+payAt : o+payAt+n]
		return p, crc32.Checksum(p, castagnoli) == binary.LittleEndian.Uint32(b[o+crcAt:]) && isPlaintext(p)
	}
	var recs []spoolRecord
	for o := 0; o+8 <= len(b); {
		if bytes.HasPrefix(b[o:], []byte("\xff\xfeSR")) {
			if p, ok := frame(o, 4, 16, 24); ok {
				recs = append(recs, spoolRecord{file: path, off: int64(o + 24), payload: bytes.Clone(p)})
				o += 24 + len(p)
				continue
			}
		}
		if p, ok := frame(o, 0, 4, 8); ok {
			recs = append(recs, spoolRecord{file: path, off: int64(o + 8), payload: bytes.Clone(p)})
			o += 8 + len(p)
			continue
		}
		o++
	}
	return recs, nil
}

// isPlaintext reports whether p is whole lines of three fields.
func isPlaintext(p []byte) bool {
	if len(p) == 0 || p[len(p)-1] != '\n' {
		return false
	}
	for _, l := range bytes.Split(p[:len(p)-1], []byte{'\n'}) {
		if len(bytes.Fields(l)) != 3 {
			return false
		}
	}
	return true
}

// flipDigit flips one bit of the ASCII digit nearest the middle of rec's
// payload ('0'↔'1', …: the line count and framing stay as they were, only
// the checksum no longer matches) and returns its file offset.
func flipDigit(rec spoolRecord) (int64, error) {
	mid := len(rec.payload) / 2
	at := -1
	for d := 0; d < len(rec.payload) && at < 0; d++ {
		for _, i := range []int{mid - d, mid + d} {
			if i >= 0 && i < len(rec.payload) && rec.payload[i] >= '0' && rec.payload[i] <= '9' {
				at = i
				break
			}
		}
	}
	if at < 0 {
		return 0, errors.New("no digit in the record")
	}
	f, err := os.OpenFile(rec.file, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	off := rec.off + int64(at)
	if _, err := f.WriteAt([]byte{rec.payload[at] ^ 0x01}, off); err != nil {
		return 0, err
	}
	return off, f.Sync()
}

// whisperNewest returns the newest point time in the whisper files of
// metrics under prefix below root (carbon's own metrics are left out; whisper's format: big-endian; a 16-byte header whose last field is
// the archive count, 12 bytes per archive of offset, seconds per point and
// points, and points of uint32 time + float64 value; a slot never written
// has time 0), the file holding it, and how many files were read.
func whisperNewest(root, prefix string) (newest int64, file string, files int, err error) {
	under := string(filepath.Separator) + filepath.Join("whisper", prefix) + string(filepath.Separator)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".wsp") || !strings.Contains(path, under) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(b) < 16 {
			return fmt.Errorf("%s: %d bytes, not a whisper file", path, len(b))
		}
		files++
		archives := int(binary.BigEndian.Uint32(b[12:16]))
		for a := 0; a < archives; a++ {
			h := 16 + 12*a
			if h+12 > len(b) {
				return fmt.Errorf("%s: archive %d header past the end", path, a)
			}
			off := int(binary.BigEndian.Uint32(b[h:]))
			n := int(binary.BigEndian.Uint32(b[h+8:]))
			if off < 0 || n < 0 || off+12*n > len(b) {
				return fmt.Errorf("%s: archive %d past the end", path, a)
			}
			for i := 0; i < n; i++ {
				p := off + 12*i
				ts := int64(binary.BigEndian.Uint32(b[p:]))
				if ts > newest && !math.IsNaN(math.Float64frombits(binary.BigEndian.Uint64(b[p+4:]))) {
					newest, file = ts, path
				}
			}
		}
		return nil
	})
	return newest, file, files, err
}
