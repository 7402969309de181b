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
// alone (internal/graphite/spool.go's documented layout: uint32 LE payload
// length, uint32 LE CRC-32C of the payload, the payload's plaintext
// lines): at every offset where a length and a checksum frame a payload of
// plaintext lines. It does not depend on the segment's magic, so a new
// segment version that keeps this framing (with a marker in front, say)
// is read the same way.
func spoolRecords(path string) ([]spoolRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var recs []spoolRecord
	for o := 0; o+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[o:]))
		if n > 0 && n <= len(b)-o-8 {
			p := b[o+8 : o+8+n]
			if crc32.Checksum(p, castagnoli) == binary.LittleEndian.Uint32(b[o+4:]) && isPlaintext(p) {
				recs = append(recs, spoolRecord{file: path, off: int64(o + 8), payload: bytes.Clone(p)})
				o += 8 + n
				continue
			}
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

// whisperNewest returns the newest point time in the whisper files under
// root (whisper's format: big-endian; a 16-byte header whose last field is
// the archive count, 12 bytes per archive of offset, seconds per point and
// points, and points of uint32 time + float64 value; a slot never written
// has time 0), the file holding it, and how many files were read.
func whisperNewest(root string) (newest int64, file string, files int, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".wsp") {
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
