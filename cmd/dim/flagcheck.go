package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/spf13/pflag"
)

// Every command checks its numeric flags with checkFlags at the top of
// RunE, before any file is read or any work starts, so that a bad value
// is an error naming the flag and what it allows, never a panic, a silent
// substitution or an error after minutes of work.

// Upper bounds of flags whose huge values would overflow an allocation or
// loop without end; they are far above any useful setting.
const (
	maxSide   = 1 << 12   // --size, --crop, --pad, --occlude-size: pixels
	maxRuns   = 1000      // eval --runs
	maxEpochs = 1_000_000 // train, compare --epochs
	maxSteps  = 1_000_000 // bench --steps and --warmup
)

// flagRange is the allowed range [min, max] of a numeric flag; want says
// it in words for the error.
type flagRange struct {
	name     string
	min, max float64
	want     string
}

// atLeast allows n and more.
func atLeast(name string, n int) flagRange {
	return flagRange{name, float64(n), math.Inf(1), fmt.Sprintf("at least %d", n)}
}

// between allows [lo, hi]; want describes it.
func between(name string, lo, hi float64, want string) flagRange {
	return flagRange{name, lo, hi, want}
}

// checkFlags reports the first flag of f outside its range, and any float
// flag that is not finite (NaN, Inf).
func checkFlags(f *pflag.FlagSet, ranges ...flagRange) error {
	var err error
	f.VisitAll(func(fl *pflag.Flag) {
		if t := fl.Value.Type(); err != nil || (t != "float32" && t != "float64") {
			return
		}
		if v, perr := strconv.ParseFloat(fl.Value.String(), 64); perr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			err = fmt.Errorf("--%s %s: want a finite number", fl.Name, fl.Value)
		}
	})
	if err != nil {
		return err
	}
	for _, r := range ranges {
		fl := f.Lookup(r.name)
		if fl == nil {
			return fmt.Errorf("flag check: no flag --%s", r.name) // a bug of the command
		}
		v, perr := strconv.ParseFloat(fl.Value.String(), 64)
		if perr != nil || !(v >= r.min && v <= r.max) {
			return fmt.Errorf("--%s %s: want %s", r.name, fl.Value, r.want)
		}
	}
	return nil
}

// ranges are the data-set flags' ranges.
func (d *dataFlags) ranges() []flagRange {
	return []flagRange{
		between("size", 0, maxSide, fmt.Sprintf("0 (see --help) to %d", maxSide)),
		between("holdout", 0, math.Nextafter(1, 0), "a fraction in [0, 1)"),
	}
}
