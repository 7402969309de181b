package originlog

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// DefaultPattern is the access-log line the collector reads when a file has
// no pattern of its own: nginx's "combined" format with one more quoted
// field at the end holding the X-CDN-Provider request header,
//
//	log_format cdn '$remote_addr - $remote_user [$time_local] "$request" '
//	               '$status $body_bytes_sent "$http_referer" '
//	               '"$http_user_agent" "$http_x_cdn_provider"';
//
// Anything after the provider field, separated by a space, is ignored, so
// more fields may be appended. Quoted fields may hold backslash escapes
// (Apache writes \" inside them; nginx writes \x22). Lines in this format
// are read by a hand-written parser that gives the same fields as this
// expression; the expression documents it and is the reference in tests.
const DefaultPattern = `^\S+ \S+ \S+ \[(?P<time>[^\]]*)\] "(?:[^"\\]|\\.)*" (?P<status>\d{3}) (?P<bytes>-?\d+|-) "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*" "(?P<provider>(?:[^"\\]|\\.)*)"(?: .*)?$`

// DefaultTimeFormat is the layout of nginx's $time_local and Apache's %t.
const DefaultTimeFormat = "02/Jan/2006:15:04:05 -0700"

// spans are the raw fields of one matched line; they point into the line.
type spans struct {
	time, status, bytes, provider []byte
}

// splitter cuts one line (without its newline) into spans.
type splitter interface {
	split(line []byte, s *spans) bool
}

// fastSplitter reads DefaultPattern by hand: one pass, no allocation.
type fastSplitter struct{}

func isSpace(c byte) bool {
	// RE2's \s: [\t\n\f\r ]; \v is not in it.
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// quoted reads a quoted field starting at line[i] == '"' and returns the
// body's bounds and the index after the closing quote.
func quoted(line []byte, i int) (start, end, next int, ok bool) {
	n := len(line)
	if i >= n || line[i] != '"' {
		return 0, 0, 0, false
	}
	j := i + 1
	for {
		// Find the next quote (memchr-fast), then check for an escape
		// before it; most fields have none.
		k := bytes.IndexByte(line[j:], '"')
		if k < 0 {
			return 0, 0, 0, false
		}
		b := bytes.IndexByte(line[j:j+k], '\\')
		if b < 0 {
			return i + 1, j + k, j + k + 1, true
		}
		// \\. : the escaped character may be anything but a newline.
		p := j + b
		if p+1 >= n || line[p+1] == '\n' {
			return 0, 0, 0, false
		}
		j = p + 2
	}
}

func (fastSplitter) split(line []byte, s *spans) bool {
	n := len(line)
	i := 0
	// Three \S+ tokens (address, ident, user), each followed by one space.
	for k := 0; k < 3; k++ {
		j := i
		for j < n && !isSpace(line[j]) {
			j++
		}
		if j == i || j >= n || line[j] != ' ' {
			return false
		}
		i = j + 1
	}
	if i >= n || line[i] != '[' {
		return false
	}
	i++
	j := bytes.IndexByte(line[i:], ']')
	if j < 0 {
		return false
	}
	s.time = line[i : i+j]
	i += j + 1
	if i >= n || line[i] != ' ' {
		return false
	}
	_, _, next, ok := quoted(line, i+1) // the request line
	if !ok {
		return false
	}
	i = next
	// " NNN "
	if i+4 >= n || line[i] != ' ' || !isDigit(line[i+1]) || !isDigit(line[i+2]) || !isDigit(line[i+3]) || line[i+4] != ' ' {
		return false
	}
	s.status = line[i+1 : i+4]
	i += 5
	// bytes: -?\d+ or -. A negative count is matched so that the line
	// counts as the request it is and only its bytes are rejected
	// (parseBytes; the collector counts them in rejected_values).
	j = i
	if j < n && line[j] == '-' {
		j++
	}
	d := j
	for j < n && isDigit(line[j]) {
		j++
	}
	if j == d && d == i {
		return false
	}
	if j >= n || line[j] != ' ' {
		return false
	}
	s.bytes = line[i:j]
	i = j + 1
	for k := 0; k < 2; k++ { // referer, user agent
		_, _, next, ok = quoted(line, i)
		if !ok || next >= n || line[next] != ' ' {
			return false
		}
		i = next + 1
	}
	start, end, next, ok := quoted(line, i)
	if !ok {
		return false
	}
	if next < n {
		// (?: .*)?$ : a space, then anything without a newline.
		if line[next] != ' ' || bytes.IndexByte(line[next:], '\n') >= 0 {
			return false
		}
	}
	s.provider = line[start:end]
	return true
}

// regexpSplitter reads lines with a user's pattern (named groups time,
// status, provider and optionally bytes).
type regexpSplitter struct {
	re                                *regexp.Regexp
	iTime, iStatus, iBytes, iProvider int // submatch indexes; -1 when absent
	buf                               []int
}

// compilePattern compiles a line pattern and checks its groups.
func compilePattern(pattern string) (*regexpSplitter, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	r := &regexpSplitter{re: re, iTime: re.SubexpIndex("time"), iStatus: re.SubexpIndex("status"),
		iBytes: re.SubexpIndex("bytes"), iProvider: re.SubexpIndex("provider")}
	var missing []string
	if r.iTime < 0 {
		missing = append(missing, "time")
	}
	if r.iStatus < 0 {
		missing = append(missing, "status")
	}
	if r.iProvider < 0 {
		missing = append(missing, "provider")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("pattern has no named group %q (want (?P<time>…), (?P<status>…), (?P<provider>…), optional (?P<bytes>…))", missing)
	}
	return r, nil
}

func group(line []byte, m []int, i int) []byte {
	if i < 0 || m[2*i] < 0 {
		return nil
	}
	return line[m[2*i]:m[2*i+1]]
}

func (r *regexpSplitter) split(line []byte, s *spans) bool {
	m := r.re.FindSubmatchIndex(line)
	if m == nil {
		return false
	}
	s.time = group(line, m, r.iTime)
	s.status = group(line, m, r.iStatus)
	s.provider = group(line, m, r.iProvider)
	s.bytes = group(line, m, r.iBytes)
	return true
}

var (
	errStatus = errors.New("bad status")
	errBytes  = errors.New("bad byte count")
	errTime   = errors.New("bad time")
)

// parseStatus reads a 3-digit HTTP status (100–999).
func parseStatus(b []byte) (int, error) {
	if len(b) != 3 || !isDigit(b[0]) || !isDigit(b[1]) || !isDigit(b[2]) || b[0] == '0' {
		return 0, errStatus
	}
	return int(b[0]-'0')*100 + int(b[1]-'0')*10 + int(b[2]-'0'), nil
}

// parseBytes reads a byte count; "-" (Apache's zero) and an absent field
// are 0. More than 18 digits is not a plausible count.
func parseBytes(b []byte) (int64, error) {
	if len(b) == 0 || (len(b) == 1 && b[0] == '-') {
		return 0, nil
	}
	if len(b) > 18 {
		return 0, errBytes
	}
	var v int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, errBytes
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

// timeParser turns a time field into Unix seconds.
type timeParser struct {
	layout string // DefaultTimeFormat, "unix", or a Go layout
}

func (t timeParser) parse(b []byte) (int64, error) {
	switch t.layout {
	case DefaultTimeFormat:
		return parseCLFTime(b)
	case "unix":
		// $msec / %{sec}t: seconds with an optional fraction.
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || f < 0 || f > 1e11 {
			return 0, errTime
		}
		return int64(f), nil
	}
	tm, err := time.Parse(t.layout, string(b))
	if err != nil {
		return 0, errTime
	}
	return tm.Unix(), nil
}

var monthIndex = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseCLFTime reads "10/Oct/2000:13:55:36 -0700" without allocating. Any
// form it does not take for certain valid (other case, out-of-range value,
// other width) goes to time.Parse, so its answers are time.Parse's.
func parseCLFTime(b []byte) (int64, error) {
	if v, ok := fastCLFTime(b); ok {
		return v, nil
	}
	tm, err := time.Parse(DefaultTimeFormat, string(b))
	if err != nil {
		return 0, errTime
	}
	return tm.Unix(), nil
}

func num2(b []byte, i int) (int, bool) {
	if !isDigit(b[i]) || !isDigit(b[i+1]) {
		return 0, false
	}
	return int(b[i]-'0')*10 + int(b[i+1]-'0'), true
}

func fastCLFTime(b []byte) (int64, bool) {
	// 0123456789012345678901234 5
	// 10/Oct/2000:13:55:36 -0700
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return 0, false
	}
	day, ok1 := num2(b, 0)
	y1, ok2 := num2(b, 7)
	y2, ok3 := num2(b, 9)
	hh, ok4 := num2(b, 12)
	mm, ok5 := num2(b, 15)
	ss, ok6 := num2(b, 18)
	zh, ok7 := num2(b, 22)
	zm, ok8 := num2(b, 24)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return 0, false
	}
	month := 0
	for i, name := range monthIndex {
		if b[3] == name[0] && b[4] == name[1] && b[5] == name[2] {
			month = i + 1
			break
		}
	}
	year := y1*100 + y2
	var sign int64
	switch b[21] {
	case '+':
		sign = 1
	case '-':
		sign = -1
	default:
		return 0, false
	}
	if month == 0 || day < 1 || day > daysIn(month, year) || hh > 23 || mm > 59 || ss > 59 || zh > 23 || zm > 59 {
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hh*3600+mm*60+ss)
	return secs - sign*int64(zh*3600+zm*60), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
