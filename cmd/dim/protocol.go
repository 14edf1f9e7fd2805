package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/pflag"
)

// Checks shared by eval, embed and neighbors, run before the slow work
// (embedding, fitting) starts.

// otherDataFlag lets eval, embed and neighbors use a data set other than
// the one the run was trained on.
const otherDataFlag = "other-data"

// otherDataUsage is --other-data's help.
const otherDataUsage = "allow --data to differ from the data set the run was trained on, and take --size, --holdout and --coarse as given instead of the run's recorded ones"

// runData sets df.spec for a model trained on info's data: the recorded
// spec (without a "+unlabeled" suffix) when --data was not given; a
// different --data is refused unless other (--other-data) is set. On the
// run's own data set, the recorded options (--size, --holdout and the seed
// that chose the held-out images, --coarse) are taken too, and a flag that
// contradicts them is refused (another hold-out would test on images the
// encoder was trained on) unless other is set, which takes the flags as
// given.
func runData(df *dataFlags, f *pflag.FlagSet, modelDir string, info train.Info, other bool) error {
	rec := data.Canonical(strings.TrimSuffix(info.Progress.Data, "+unlabeled"))
	if !f.Changed("data") {
		if rec == "" {
			return fmt.Errorf("%s records no data set: pass --data", filepath.Join(modelDir, train.WeightsFile))
		}
		df.spec = rec
	} else if rec != "" && df.spec != rec {
		if !other {
			return fmt.Errorf("--data %s: %s was trained on %s; pass --%s to use another data set", df.spec, modelDir, rec, otherDataFlag)
		}
		return nil
	}
	if other { // the data options as given, whatever the run recorded
		return nil
	}
	return df.takeRecorded(f, info.Progress.DataOptions, modelDir)
}

// parseLayers splits a --layers value: non-empty, no repeats, and each a
// tap of enc when enc is not nil.
func parseLayers(value string, enc encoder.Encoder) ([]string, error) {
	layers := strings.Split(value, ",")
	for i, l := range layers {
		if l == "" || slices.Contains(layers[:i], l) {
			return nil, fmt.Errorf("--layers %q: empty or repeated layer %q", value, l)
		}
		if enc == nil {
			continue
		}
		if _, err := enc.TapShape(l); err != nil {
			return nil, fmt.Errorf("--layers %q: layer %q: the %s encoder has taps %s", value, l, enc.Spec().Name, strings.Join(enc.Taps(), ", "))
		}
	}
	return layers, nil
}

// checkWritable makes dir (flag names the flag it came from) and checks
// that a file can be created in it, so that a bad --out is reported before
// minutes of embedding, not after.
func checkWritable(flag, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	f, err := os.CreateTemp(dir, ".dim-write-check-*")
	if err != nil {
		return fmt.Errorf("%s %s: not writable: %w", flag, dir, err)
	}
	name := f.Name()
	return errors.Join(f.Close(), os.Remove(name))
}

// classifiers are the kinds --probe all runs, in table order.
var classifiers = []string{eval.KindLinear, eval.KindSVM, eval.KindMLP, eval.KindKNN}

// parseProbes reads --probe: one classifier, "all", or a comma-separated
// list. It returns the classifiers to run and the report's classifier,
// which names its file: the kind itself, "all", or the kinds joined by
// "+" (eval_linear+knn.json).
func parseProbes(value string) (kinds []string, report string, err error) {
	if value == "all" {
		return slices.Clone(classifiers), "all", nil
	}
	kinds = strings.Split(value, ",")
	for i, k := range kinds {
		if !slices.Contains(classifiers, k) {
			return nil, "", fmt.Errorf("--probe %q: classifier %q: want linear, svm, mlp, knn, all or a comma-separated list", value, k)
		}
		if slices.Contains(kinds[:i], k) {
			return nil, "", fmt.Errorf("--probe %q: %s twice", value, k)
		}
	}
	return kinds, strings.Join(kinds, "+"), nil
}
