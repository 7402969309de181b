package nab

import (
	"strings"
	"testing"
)

func FuzzReadSeries(f *testing.F) {
	f.Add("timestamp,value\n2015-02-26 21:42:53,104\n2015-02-26 21:47:53,100\n")
	f.Add("value,timestamp\n1.5,2014-04-01 00:00:00\n")
	f.Add("timestamp,value\n2014-04-01 00:00:00.000000,nan\n")
	f.Fuzz(func(t *testing.T, in string) {
		times, values, err := readSeries(strings.NewReader(in))
		if err == nil && (len(times) != len(values) || len(times) == 0) {
			t.Fatalf("%d times, %d values", len(times), len(values))
		}
	})
}

func FuzzReadScores(f *testing.F) {
	f.Add("timestamp,anomaly_score\n2015-02-26 21:42:53,0.5\n", 1)
	f.Add("timestamp,value,anomaly_score,raw_score\nx,1,0.03,1.0\ny,2,1,0\n", 2)
	f.Add("anomaly_score\nNaN\n", 1)
	f.Fuzz(func(t *testing.T, in string, rows int) {
		if rows < 0 || rows > 1000 {
			return
		}
		s, err := ReadScores(strings.NewReader(in), rows)
		if err == nil && len(s) != rows {
			t.Fatalf("%d scores for %d rows", len(s), rows)
		}
	})
}
