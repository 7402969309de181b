// Package sim links every vendor's simulation package (the API stand-ins,
// their config sections and Expect) into the binary: one file per vendor,
// each a blank import, the way collectors/all links the collectors. Only
// the simulator's users import it (the simulate command, --simulate, the
// end-to-end tests); a collector never does.
package sim
