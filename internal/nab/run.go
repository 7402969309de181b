package nab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/cdnmetrics/cdnmetrics/internal/anomaly"
)

// usage is printed for -h and for bad arguments.
const usage = `Usage: cdnmetrics anomaly-eval [--format table|json] [--scores-dir DIR] [--results DIR [--detector NAME]]
                               [--holdout [--grid]] [--report] NAB_ROOT

Runs the built-in anomaly detector over every NAB data file as a stream and
scores it with NAB's rules. NAB_ROOT holds data/, labels/ and config/.

  --format table|json  output format (default table)
  --scores-dir DIR     write the detector's output, DIR/<category>/<name>.csv
  --results DIR        score saved detector output from DIR/<category>/<name>.csv
                       (or NAB's <detector>_<name>.csv) instead of running the
                       built-in detector
  --detector NAME      with --results: also score at NAME's published thresholds
                       from config/thresholds.json
  --holdout            also score held-out halves: files sorted by category/name,
                       1st, 3rd, … file in half A, 2nd, 4th, … in half B; the
                       threshold is chosen on one half and the other is scored
                       (each half normalised with its own null and perfect
                       scores), both ways
  --grid               with --holdout and the built-in detector: also choose the
                       parameter set on the tuning half, from a fixed grid of
                       HoldoutGrid() sets around the defaults (a few minutes)
  --report             list the missed windows (file, start, end, best score
                       inside) and the files whose false positives cost most
`

// RunCommand is the anomaly-eval subcommand: it parses args (flags and the
// NAB root), runs or reads a detector, scores it and prints the result to
// stdout, with progress on stderr. It returns the process exit code: 0 on
// success, 2 for bad usage, 1 for any other failure.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("anomaly-eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	format := fs.String("format", "table", "table or json")
	scoresDir := fs.String("scores-dir", "", "write detector output here")
	resultsDir := fs.String("results", "", "score saved detector output")
	detector := fs.String("detector", "", "published detector name for --results")
	holdout := fs.Bool("holdout", false, "score held-out halves")
	grid := fs.Bool("grid", false, "with --holdout: choose parameters on the tuning half too")
	withReport := fs.Bool("report", false, "list missed windows and costliest false positives")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		// Allow flags after the positional argument.
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "anomaly-eval: want exactly one NAB root, got %d\n", len(pos))
		fs.Usage()
		return 2
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintf(stderr, "anomaly-eval: --format must be table or json, not %q\n", *format)
		return 2
	}
	if *detector != "" && *resultsDir == "" {
		fmt.Fprintln(stderr, "anomaly-eval: --detector needs --results")
		return 2
	}
	if *grid && (!*holdout || *resultsDir != "") {
		fmt.Fprintln(stderr, "anomaly-eval: --grid needs --holdout and the built-in detector (no --results)")
		return 2
	}
	ev := evaluation{root: pos[0], scoresDir: *scoresDir, resultsDir: *resultsDir, detector: *detector,
		holdout: *holdout, grid: *grid, report: *withReport, stderr: stderr}
	rep, err := ev.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "anomaly-eval: %v\n", err)
		return 1
	}
	if *format == "json" {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "anomaly-eval: write output: %v\n", err)
		return 1
	}
	return 0
}

type evaluation struct {
	root, scoresDir, resultsDir, detector string
	holdout, grid, report                 bool
	stderr                                io.Writer
}

// report is everything the output formats print.
type report struct {
	Detector   string
	Files      int
	Rows       int
	Windows    int
	Seconds    float64 // detector time (zero with --results)
	Profiles   []Profile
	Results    []Result // per profile, at the optimised threshold
	AtPub      []Result // per profile, at the published thresholds (--detector)
	Published  Published
	Categories []string
	// Holdout is set with --holdout: per profile, the halves' scores.
	Holdout     []HeldOut
	HoldoutWins [2]int
	Candidates  int // parameter sets tried per half (1 without --grid)
	sweep       *Sweep
	report      bool
}

func (e *evaluation) run(ctx context.Context) (*report, error) {
	files, err := LoadCorpus(e.root)
	if err != nil {
		return nil, err
	}
	profiles, err := LoadProfiles(e.root)
	if err != nil {
		return nil, err
	}
	for _, want := range ProfileNames {
		if !hasProfile(profiles, want) {
			return nil, fmt.Errorf("nab: profiles.json lacks profile %q", want)
		}
	}
	pub, err := LoadPublished(e.root)
	if err != nil {
		return nil, err
	}
	rep := &report{Detector: "cdnmetrics", Files: len(files), Profiles: profiles, Published: pub}
	if e.resultsDir != "" {
		rep.Detector = "results:" + e.resultsDir
		if e.detector != "" {
			rep.Detector = e.detector
		}
	}
	prog := newProgress(e.stderr, len(files))
	scores := make([][]float64, len(files))
	var spent time.Duration
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Rows += len(f.Times)
		if e.resultsDir != "" {
			scores[i], err = readResult(e.resultsDir, f)
			if err != nil {
				return nil, fmt.Errorf("nab: %s: %w", f.Key(), err)
			}
		} else {
			start := time.Now()
			scores[i] = Detect(f)
			spent += time.Since(start)
			if e.scoresDir != "" {
				if err := writeScores(e.scoresDir, f, scores[i]); err != nil {
					return nil, err
				}
			}
		}
		prog.step(f, i)
	}
	prog.done()
	rep.Seconds = spent.Seconds()
	sc := NewScorer(files)
	rep.Windows = sc.Windows()
	sw := sc.Prepare(scores)
	var thresholds map[string]map[string]float64
	if e.detector != "" {
		if thresholds, err = LoadThresholds(e.root); err != nil {
			return nil, err
		}
		if _, ok := thresholds[e.detector]; !ok {
			return nil, fmt.Errorf("nab: no published thresholds for detector %q", e.detector)
		}
	}
	for _, p := range profiles {
		th, _ := sw.Optimise(p)
		rep.Results = append(rep.Results, sw.At(p, th))
		if thresholds != nil {
			rep.AtPub = append(rep.AtPub, sw.At(p, thresholds[e.detector][p.Name]))
		}
	}
	rep.sweep, rep.report = sw, e.report
	if e.holdout {
		x := NewCrossHalves(files, profiles)
		x.Add("default", scores)
		rep.Candidates = 1
		if e.grid {
			grid := HoldoutGrid()
			for k, c := range grid {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				fmt.Fprintf(e.stderr, "anomaly-eval: grid [%d/%d] %s\n", k+1, len(grid), c.Name)
				cs := make([][]float64, len(files))
				for i, f := range files {
					cs[i] = DetectWith(f, c.Params)
				}
				x.Add(c.Name, cs)
			}
			rep.Candidates += len(grid)
		}
		rep.Holdout, rep.HoldoutWins = x.Results, x.Windows()
	}
	seen := map[string]bool{}
	for _, f := range files {
		if !seen[f.Category] {
			seen[f.Category] = true
			rep.Categories = append(rep.Categories, f.Category)
		}
	}
	return rep, nil
}

func hasProfile(ps []Profile, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// Detect runs a fresh built-in detector (default parameters) over one file as
// a stream and returns its score for every row.
func Detect(f *File) []float64 { return DetectWith(f, anomaly.DefaultParams()) }

// DetectWith runs a fresh detector with parameters p over one file.
func DetectWith(f *File, p anomaly.Params) []float64 {
	d := anomaly.New(p)
	out := make([]float64, len(f.Values))
	for i, v := range f.Values {
		out[i] = d.Update(f.Times[i], v)
	}
	return out
}

// readResult finds f's output in dir: <category>/<name>.csv, or NAB's own
// naming <category>/<detector>_<name>.csv.
func readResult(dir string, f *File) ([]float64, error) {
	p := filepath.Join(dir, f.Category, f.Name)
	if _, err := os.Stat(p); err != nil {
		m, _ := filepath.Glob(filepath.Join(dir, f.Category, "*_"+f.Name))
		if len(m) != 1 {
			return nil, fmt.Errorf("no result file %s", p)
		}
		p = m[0]
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	s, err := ReadScores(bufio.NewReader(fh), len(f.Times))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}

// writeScores writes DIR/<category>/<name>.csv with timestamp,anomaly_score.
func writeScores(dir string, f *File, scores []float64) error {
	d := filepath.Join(dir, f.Category)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("nab: write scores: %w", err)
	}
	p := filepath.Join(d, f.Name)
	fh, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("nab: write scores: %w", err)
	}
	w := bufio.NewWriter(fh)
	w.WriteString("timestamp,anomaly_score\n")
	for i, s := range scores {
		w.WriteString(time.Unix(f.Times[i], 0).UTC().Format(timeLayout))
		w.WriteByte(',')
		w.WriteString(strconv.FormatFloat(s, 'g', -1, 64))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return fmt.Errorf("nab: write scores %s: %w", p, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("nab: write scores %s: %w", p, err)
	}
	return nil
}

// progress reports one step per file: a bar on a terminal, a line otherwise.
type progress struct {
	w     io.Writer
	total int
	bar   *progressbar.ProgressBar
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("anomaly-eval"),
				progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish())
		}
	}
	return p
}

func (p *progress) step(f *File, i int) {
	if p.bar != nil {
		p.bar.Describe(f.Key())
		p.bar.Add(1)
		return
	}
	fmt.Fprintf(p.w, "anomaly-eval: [%d/%d] %s (%d rows)\n", i+1, p.total, f.Key(), len(f.Times))
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// score is the normalised corpus score of one result.
func (r *report) score(res Result) float64 { return Normalise(res.Profile, res.Raw, r.Windows) }

// categoryScore sums one category's files of res.
func categoryScore(res Result, cat string) (raw float64, windows, detected, missed, fp, files int) {
	for _, fr := range res.Files {
		if fr.File.Category != cat {
			continue
		}
		files++
		raw += fr.Raw
		windows += fr.Detected + fr.Missed
		detected += fr.Detected
		missed += fr.Missed
		fp += fr.FP
	}
	return
}

func (r *report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "NAB corpus: %d files, %d rows, %d windows; detector: %s\n", r.Files, r.Rows, r.Windows, r.Detector)
	if r.Seconds > 0 {
		fmt.Fprintf(w, "detector time: %.2f s, %.2f µs/point\n", r.Seconds, 1e6*r.Seconds/float64(r.Rows))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "profile\tthreshold\traw\tscore\tdetected\tmissed\tFP\t")
	emit := func(label string, res []Result) {
		for _, res := range res {
			d, m, fp := 0, 0, 0
			for _, fr := range res.Files {
				d, m, fp = d+fr.Detected, m+fr.Missed, fp+fr.FP
			}
			fmt.Fprintf(tw, "%s%s\t%.4f\t%.2f\t%.2f\t%d\t%d\t%d\t\n", res.Profile.Name, label, res.Threshold, res.Raw, r.score(res), d, m, fp)
		}
	}
	emit("", r.Results)
	emit(" (published θ)", r.AtPub)
	tw.Flush()

	fmt.Fprintln(w, "\nper category (each profile at its corpus threshold; score normalised within the category; raw when it has no windows):")
	fmt.Fprint(tw, "category\tfiles\twindows")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "\t%s", res.Profile.Name)
	}
	fmt.Fprintln(tw, "\tdetected\tmissed\tFP\t")
	for _, cat := range r.Categories {
		var line strings.Builder
		var files, windows, det, miss, fps int
		for k, res := range r.Results {
			raw, win, d, m, fp, n := categoryScore(res, cat)
			if k == 0 {
				files, windows, det, miss, fps = n, win, d, m, fp
			}
			if win == 0 {
				fmt.Fprintf(&line, "\traw %.2f", raw)
			} else {
				fmt.Fprintf(&line, "\t%.2f", Normalise(res.Profile, raw, win))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d%s\t%d\t%d\t%d\t\n", cat, files, windows, line.String(), det, miss, fps)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nscoreboard (published NAB scores; this run first):")
	fmt.Fprint(tw, "detector")
	for _, p := range r.Profiles {
		fmt.Fprintf(tw, "\t%s", p.Name)
	}
	fmt.Fprintln(tw, "\t")
	fmt.Fprintf(tw, "%s (this run)", r.Detector)
	for _, res := range r.Results {
		fmt.Fprintf(tw, "\t%.2f", r.score(res))
	}
	fmt.Fprintln(tw, "\t")
	names := make([]string, 0, len(r.Published))
	for n := range r.Published {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return r.Published[names[i]]["standard"] > r.Published[names[j]]["standard"]
	})
	for _, n := range names {
		fmt.Fprint(tw, n)
		for _, p := range r.Profiles {
			v, ok := r.Published[n][p.Name]
			if ok {
				fmt.Fprintf(tw, "\t%.2f", v)
			} else {
				fmt.Fprint(tw, "\t-")
			}
		}
		fmt.Fprintln(tw, "\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Holdout != nil {
		r.writeHoldout(w)
	}
	if r.report {
		for _, res := range r.Results {
			if res.Profile.Name == "standard" {
				return writeReport(w, r.sweep, res, 15)
			}
		}
	}
	return nil
}

// writeHoldout prints the held-out table.
func (r *report) writeHoldout(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	what := "threshold"
	if r.Candidates > 1 {
		what = fmt.Sprintf("parameter set (of %d) and threshold", r.Candidates)
	}
	fmt.Fprintf(w, "\nheld out (files by category/name; A = 1st, 3rd, …: %d windows; B = 2nd, 4th, …: %d windows;\n"+
		"%s chosen on one half, the other scored; each half normalised with its own null and perfect scores):\n",
		r.HoldoutWins[0], r.HoldoutWins[1], what)
	fmt.Fprintln(tw, "profile	full corpus	A in-sample	A held out	B in-sample	B held out	θ chosen on A	θ chosen on B	")
	for k, h := range r.Holdout {
		full := math.NaN()
		if k < len(r.Results) {
			full = r.score(r.Results[k])
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.4f\t%.4f\t\n", h.Profile.Name, full,
			h.Self[0], h.Held[0], h.Self[1], h.Held[1], h.Threshold[0], h.Threshold[1])
	}
	tw.Flush()
	if r.Candidates > 1 {
		for _, h := range r.Holdout {
			fmt.Fprintf(w, "  %s: chosen on A: %s; on B: %s\n", h.Profile.Name, h.Choice[0], h.Choice[1])
		}
	}
}

// jsonReport keeps the three profile scores first, as the subcommand's
// contract promises.
type jsonReport struct {
	Standard     float64                       `json:"standard"`
	LowFP        float64                       `json:"reward_low_FP_rate"`
	LowFN        float64                       `json:"reward_low_FN_rate"`
	Thresholds   map[string]float64            `json:"thresholds"`
	Raw          map[string]float64            `json:"raw"`
	AtPublished  map[string]float64            `json:"at_published_thresholds,omitempty"`
	Categories   map[string]map[string]float64 `json:"categories"`
	Detector     string                        `json:"detector"`
	Files        int                           `json:"files"`
	Rows         int                           `json:"rows"`
	Windows      int                           `json:"windows"`
	MicrosPerRow float64                       `json:"us_per_point,omitempty"`
	Holdout      map[string]jsonHeldOut        `json:"holdout,omitempty"`
}

// jsonHeldOut is one profile's held-out scores: A and B are the halves.
type jsonHeldOut struct {
	Full       float64 `json:"full"`
	ASelf      float64 `json:"A_in_sample"`
	AHeld      float64 `json:"A_held_out"`
	BSelf      float64 `json:"B_in_sample"`
	BHeld      float64 `json:"B_held_out"`
	ThresholdA float64 `json:"threshold_chosen_on_A"`
	ThresholdB float64 `json:"threshold_chosen_on_B"`
	ChoiceA    string  `json:"chosen_on_A,omitempty"`
	ChoiceB    string  `json:"chosen_on_B,omitempty"`
}

func (r *report) writeJSON(w io.Writer) error {
	j := jsonReport{
		Thresholds: map[string]float64{}, Raw: map[string]float64{},
		Categories: map[string]map[string]float64{},
		Detector:   r.Detector, Files: r.Files, Rows: r.Rows, Windows: r.Windows,
	}
	if r.Seconds > 0 {
		j.MicrosPerRow = 1e6 * r.Seconds / float64(r.Rows)
	}
	for _, res := range r.Results {
		s := r.score(res)
		switch res.Profile.Name {
		case "standard":
			j.Standard = s
		case "reward_low_FP_rate":
			j.LowFP = s
		case "reward_low_FN_rate":
			j.LowFN = s
		}
		j.Thresholds[res.Profile.Name] = res.Threshold
		j.Raw[res.Profile.Name] = res.Raw
		for _, cat := range r.Categories {
			raw, win, _, _, _, _ := categoryScore(res, cat)
			if j.Categories[cat] == nil {
				j.Categories[cat] = map[string]float64{}
			}
			if win == 0 {
				j.Categories[cat][res.Profile.Name+"_raw"] = raw
			} else {
				j.Categories[cat][res.Profile.Name] = Normalise(res.Profile, raw, win)
			}
		}
	}
	if len(r.AtPub) > 0 {
		j.AtPublished = map[string]float64{}
		for _, res := range r.AtPub {
			j.AtPublished[res.Profile.Name] = r.score(res)
		}
	}
	if r.Holdout != nil {
		j.Holdout = map[string]jsonHeldOut{}
		for k, h := range r.Holdout {
			jh := jsonHeldOut{ASelf: h.Self[0], AHeld: h.Held[0], BSelf: h.Self[1], BHeld: h.Held[1],
				ThresholdA: h.Threshold[0], ThresholdB: h.Threshold[1]}
			if k < len(r.Results) {
				jh.Full = r.score(r.Results[k])
			}
			if r.Candidates > 1 {
				jh.ChoiceA, jh.ChoiceB = h.Choice[0], h.Choice[1]
			}
			j.Holdout[h.Profile.Name] = jh
		}
	}
	for k, v := range j.Raw {
		if math.IsNaN(v) {
			j.Raw[k] = 0
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
