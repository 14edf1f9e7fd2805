package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIFlagValues runs every command with a bad value of each numeric
// flag and wants an error naming the flag, returned at once: the data set,
// model and runs named do not exist, so an error about them (or a panic,
// or work) would mean that the flag was not checked first.
func TestCLIFlagValues(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	huge := "9223372036854775807"
	nonFinite := []string{"NaN", "+Inf", "-Inf", ""}
	negFloat := append([]string{"-1"}, nonFinite...)
	notInt := []string{"NaN", "1e30", "99999999999999999999", ""}
	nonNeg := append([]string{"-1"}, notInt...)        // 0 or more
	positive := append([]string{"0", "-1"}, notInt...) // 1 or more
	capped := func(bad []string) []string { return append([]string{huge}, bad...) }
	dataFlags := map[string][]string{
		"size":    capped(nonNeg),
		"holdout": append([]string{"1", "1e30"}, negFloat...),
	}
	with := func(m map[string][]string, more map[string][]string) map[string][]string {
		out := map[string][]string{}
		for k, v := range m {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		cmd   string
		base  []string
		flags map[string][]string
	}{
		{"train", []string{"--data", "idx:" + none, "--out", filepath.Join(t.TempDir(), "run"), "--steps", "1", "--batch", "4", "--mi-units", "8"}, with(dataFlags, map[string][]string{
			"epochs": capped(positive), "steps": nonNeg, "mi-units": capped(positive), "batch": capped(positive),
			"lr": append([]string{"0"}, negFloat...), "kl-weight": negFloat, "prior-weight": negFloat, "grad-penalty": negFloat,
			"alpha": negFloat, "beta": negFloat, "gamma": negFloat, "coord": negFloat,
			"local-samples": capped(nonNeg), "global-samples": capped(nonNeg), "occlude-size": capped(nonNeg), "occlude-blocks": capped(positive),
			"crop": capped(nonNeg), "pad": capped(nonNeg), "log-every": positive,
			"checkpoint-every": {"-1", "NaN", "+Inf", "1e30", "-5m", ""},
		})},
		{"embed", []string{"--model", none, "--out", filepath.Join(t.TempDir(), "feat")}, with(dataFlags, map[string][]string{"batch": nonNeg})},
		{"eval", []string{"--model", none}, with(dataFlags, map[string][]string{
			"probe-epochs": positive, "runs": capped(positive), "ndm-steps": positive, "mine-steps": positive,
			"msssim-steps": positive, "semi-steps": positive, "labels-per-class": nonNeg,
		})},
		{"neighbors", []string{"--model", none}, with(dataFlags, map[string][]string{
			"k": positive, "queries": positive, "scale": capped(nonNeg), "batch": nonNeg,
		})},
		{"report", []string{"--run", none, "--out", filepath.Join(t.TempDir(), "r.html")}, with(dataFlags, map[string][]string{
			"train-images": positive, "test-images": positive, "queries": positive, "k": positive, "reconstructions": positive, "batch": nonNeg,
		})},
		{"compare", []string{"--data", "idx:" + none, "--out", filepath.Join(t.TempDir(), "cmp"), "--methods", "random", "--steps", "1"}, with(dataFlags, map[string][]string{
			"epochs": capped(positive), "steps": nonNeg,
		})},
		{"bench", []string{"--steps", "1", "--warmup", "0", "--batch", "2", "--mi-units", "8"}, map[string][]string{
			"batch": capped(positive), "steps": capped(positive), "warmup": capped(nonNeg),
			"mi-units": {"0", "-1", "8,0", huge, "1e30", "NaN", ""}, "alpha": negFloat, "beta": negFloat,
		}},
	} {
		for flag, values := range c.flags {
			for _, v := range values {
				args := append(append([]string{c.cmd}, c.base...), "--"+flag+"="+v)
				start := time.Now()
				err := run(t, args...)
				if d := time.Since(start); d > time.Second {
					t.Errorf("dim %s --%s=%q took %v: the flag is not checked first", c.cmd, flag, v, d)
				}
				if err == nil || !strings.Contains(err.Error(), "--"+flag) {
					t.Errorf("dim %s --%s=%q: error %v, want one naming --%s", c.cmd, flag, v, err, flag)
				}
			}
		}
	}
}
