package nab

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// timeLayout is the timestamp format of NAB data files; label files add
// fractional seconds, which are always zero.
const timeLayout = "2006-01-02 15:04:05"

// Window is one labelled anomaly window in row indices, inclusive at both ends.
type Window struct {
	Start, End int
}

// File is one NAB data file with its label windows.
type File struct {
	Category string  // e.g. "realTweets"
	Name     string  // file name without directory, e.g. "Twitter_volume_AAPL.csv"
	Times    []int64 // Unix seconds (the timestamps carry no zone; read as UTC)
	Values   []float64
	Windows  []Window // sorted, non-overlapping
}

// Key is the file's label key, "<category>/<name>".
func (f *File) Key() string { return f.Category + "/" + f.Name }

// LoadCorpus reads every data/<category>/<name>.csv under root and attaches
// the windows from labels/combined_windows.json. Files come back sorted by
// key. A data file without a label entry, or a window whose end points are not
// timestamps of its file, is an error: scoring against the wrong truth would
// be silent otherwise.
func LoadCorpus(root string) ([]*File, error) {
	raw, err := os.ReadFile(filepath.Join(root, "labels", "combined_windows.json"))
	if err != nil {
		return nil, fmt.Errorf("nab: read windows: %w", err)
	}
	var labels map[string][][2]string
	if err := json.Unmarshal(raw, &labels); err != nil {
		return nil, fmt.Errorf("nab: decode windows: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(root, "data", "*", "*.csv"))
	if err != nil {
		return nil, fmt.Errorf("nab: list data: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("nab: no data files under %s", filepath.Join(root, "data"))
	}
	sort.Strings(paths)
	files := make([]*File, 0, len(paths))
	for _, p := range paths {
		f := &File{Category: filepath.Base(filepath.Dir(p)), Name: filepath.Base(p)}
		fh, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("nab: %w", err)
		}
		f.Times, f.Values, err = readSeries(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("nab: %s: %w", f.Key(), err)
		}
		wins, ok := labels[f.Key()]
		if !ok {
			return nil, fmt.Errorf("nab: %s: no entry in combined_windows.json", f.Key())
		}
		if f.Windows, err = windowRows(f.Times, wins); err != nil {
			return nil, fmt.Errorf("nab: %s: %w", f.Key(), err)
		}
		files = append(files, f)
	}
	return files, nil
}

// parseTime reads a NAB timestamp, with or without fractional seconds.
func parseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return 0, err
	}
	return t.Unix(), nil
}

// readSeries reads a "timestamp,value" CSV with a header line.
func readSeries(r io.Reader) ([]int64, []float64, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("read header: %w", err)
	}
	tcol, vcol := column(header, "timestamp"), column(header, "value")
	if tcol < 0 || vcol < 0 {
		return nil, nil, fmt.Errorf("header %q lacks timestamp or value", strings.Join(header, ","))
	}
	var times []int64
	var values []float64
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) <= max(tcol, vcol) {
			return nil, nil, fmt.Errorf("line %d: %d fields", line, len(rec))
		}
		t, err := parseTime(rec[tcol])
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: timestamp: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[vcol]), 64)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: value: %w", line, err)
		}
		times = append(times, t)
		values = append(values, v)
	}
	if len(times) == 0 {
		return nil, nil, errors.New("no rows")
	}
	return times, values, nil
}

func column(header []string, name string) int {
	for i, h := range header {
		if strings.TrimSpace(h) == name {
			return i
		}
	}
	return -1
}

// windowRows turns timestamp windows into row windows, as NAB does by looking
// the end points up among the file's timestamps.
func windowRows(times []int64, wins [][2]string) ([]Window, error) {
	idx := make(map[int64]int, len(times))
	for i, t := range times {
		if _, dup := idx[t]; !dup {
			idx[t] = i
		}
	}
	out := make([]Window, 0, len(wins))
	for _, w := range wins {
		var rows [2]int
		for k, s := range w {
			t, err := parseTime(s)
			if err != nil {
				return nil, fmt.Errorf("window %q: %w", s, err)
			}
			i, ok := idx[t]
			if !ok {
				return nil, fmt.Errorf("window edge %q is not a timestamp of the file", s)
			}
			rows[k] = i
		}
		if rows[1] < rows[0] {
			return nil, fmt.Errorf("window %v ends before it starts", w)
		}
		if n := len(out); n > 0 && rows[0] <= out[n-1].End {
			return nil, fmt.Errorf("window %v overlaps or precedes the one before", w)
		}
		out = append(out, Window{Start: rows[0], End: rows[1]})
	}
	return out, nil
}

// ReadScores reads a detector's output for f: a CSV with a header naming an
// "anomaly_score" column and one row per data row. Scores must be numbers in
// [0, 1].
func ReadScores(r io.Reader, rows int) ([]float64, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col := column(header, "anomaly_score")
	if col < 0 {
		return nil, fmt.Errorf("header %q lacks anomaly_score", strings.Join(header, ","))
	}
	out := make([]float64, 0, rows)
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) <= col {
			return nil, fmt.Errorf("line %d: %d fields", line, len(rec))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[col]), 64)
		if err != nil || v != v {
			return nil, fmt.Errorf("line %d: anomaly_score %q is not a number", line, rec[col])
		}
		out = append(out, v)
	}
	if len(out) != rows {
		return nil, fmt.Errorf("%d scores for %d data rows", len(out), rows)
	}
	return out, nil
}

// Profile is one NAB application profile: the weights of a true positive, a
// false positive and a false negative.
type Profile struct {
	Name       string
	TP, FP, FN float64
}

// ProfileNames is the order in which profiles are reported.
var ProfileNames = []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"}

// LoadProfiles reads config/profiles.json. Profiles come back in
// ProfileNames order, followed by any others sorted by name.
func LoadProfiles(root string) ([]Profile, error) {
	raw, err := os.ReadFile(filepath.Join(root, "config", "profiles.json"))
	if err != nil {
		return nil, fmt.Errorf("nab: read profiles: %w", err)
	}
	var doc map[string]struct {
		CostMatrix struct {
			TP float64 `json:"tpWeight"`
			FP float64 `json:"fpWeight"`
			FN float64 `json:"fnWeight"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("nab: decode profiles: %w", err)
	}
	names := make([]string, 0, len(doc))
	for n := range doc {
		names = append(names, n)
	}
	rank := func(n string) int {
		for i, p := range ProfileNames {
			if p == n {
				return i
			}
		}
		return len(ProfileNames)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	out := make([]Profile, 0, len(names))
	for _, n := range names {
		c := doc[n].CostMatrix
		if c.TP <= 0 {
			return nil, fmt.Errorf("nab: profile %s: tpWeight must be positive", n)
		}
		out = append(out, Profile{Name: n, TP: c.TP, FP: c.FP, FN: c.FN})
	}
	return out, nil
}

// Published is the scoreboard: detector → profile → normalised score, as in
// results/final_results.json.
type Published map[string]map[string]float64

// LoadPublished reads results/final_results.json; a missing file gives an
// empty scoreboard.
func LoadPublished(root string) (Published, error) {
	raw, err := os.ReadFile(filepath.Join(root, "results", "final_results.json"))
	if errors.Is(err, os.ErrNotExist) {
		return Published{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nab: read published results: %w", err)
	}
	var p Published
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("nab: decode published results: %w", err)
	}
	return p, nil
}

// LoadThresholds reads config/thresholds.json: detector → profile →
// threshold.
func LoadThresholds(root string) (map[string]map[string]float64, error) {
	raw, err := os.ReadFile(filepath.Join(root, "config", "thresholds.json"))
	if err != nil {
		return nil, fmt.Errorf("nab: read thresholds: %w", err)
	}
	var doc map[string]map[string]struct {
		Threshold float64 `json:"threshold"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("nab: decode thresholds: %w", err)
	}
	out := make(map[string]map[string]float64, len(doc))
	for d, m := range doc {
		out[d] = make(map[string]float64, len(m))
		for p, v := range m {
			out[d][p] = v.Threshold
		}
	}
	return out, nil
}
