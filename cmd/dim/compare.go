package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/deepinfomax/deepinfomax/baselines"
	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/report"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// comparison is what compare.json holds: per method, the test accuracy of
// the classifier on each layer and the training time.
type comparison struct {
	Data       string             `json:"data"`
	Classifier string             `json:"classifier"`
	Epochs     int                `json:"epochs,omitempty"`
	Steps      int                `json:"steps,omitempty"`
	Rows       []comparisonMethod `json:"rows"`
}

type comparisonMethod struct {
	Method string `json:"method"`
	Dir    string `json:"dir"`
	// TestAcc by layer (conv, fc, y).
	TestAcc map[string]float64 `json:"test_acc"`
	// TrainSeconds is the wall time of the training steps (from the run's
	// metrics.jsonl, so resumed and reused runs count theirs).
	TrainSeconds float64 `json:"train_seconds"`
}

func compareCmd() *cobra.Command {
	var (
		df                        dataFlags
		out, methods, probe, arch string
		epochs, steps             int
		extra, evalExtra          string
	)
	cmd := &cobra.Command{
		Use:   "compare --data SPEC --methods dim,vae,... --out DIR",
		Short: "Train several methods on the same encoder and compare their representations (the paper's Table 1)",
		Long: `Train each method of --methods on the same data, encoder and budget (--epochs or
--steps) into DIR/METHOD, reusing finished runs and resuming unfinished ones,
evaluate each with the same classifier on conv, fc and Y, and write
DIR/compare.md (rows: methods; columns: conv, fc, Y, training time),
DIR/compare.json, a bar chart DIR/compare.png and a side-by-side report
DIR/report.html. Methods: dim and the baselines (` + baselineNames() + `).
--train-args passes more flags to every new run's dim train (e.g. "--mi-units
512 --normalize"), --eval-args to dim eval; before anything is trained both get
the checks dim train and dim eval make of their flags' values, and a help flag
or a flag compare sets itself is refused. --probe is one classifier (the
table has one). A method's evaluation is redone when it is older than its
run's last step or lacks a layer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out DIR is required")
			}
			ranges := append(df.ranges(), between("epochs", 1, maxEpochs, fmt.Sprintf("1 to %d", maxEpochs)), between("steps", 0, math.MaxInt, "0 (use --epochs) or more"))
			if err := checkFlags(cmd.Flags(), ranges...); err != nil {
				return err
			}
			// The data options go to every dim train and dim eval.
			dataArgs := []string{"--data", df.spec, "--size", fmt.Sprint(df.size), "--holdout", fmt.Sprint(df.holdOut), "--coarse=" + fmt.Sprint(df.coarse)}
			names := strings.Split(methods, ",")
			known := map[string]bool{dim.MethodName: true}
			for _, s := range baselines.Specs() {
				known[s.Name] = true
			}
			for i, m := range names {
				if !known[m] {
					return fmt.Errorf("--methods: unknown method %q (want dim or %s)", m, baselineNames())
				}
				if slices.Contains(names[:i], m) {
					return fmt.Errorf("--methods: %s is listed twice", m)
				}
			}
			if !slices.Contains(classifiers, probe) {
				return fmt.Errorf("--probe %q: want one classifier: %s (compare tabulates one; run dim eval --probe for several)", probe, strings.Join(classifiers, ", "))
			}
			// The passed-on flags are checked before any training: they must
			// parse, must not ask for help or set what compare sets itself,
			// and must pass the checks dim train and dim eval make of their
			// flags' values, given as each method's new run and evaluation
			// will get them.
			if err := checkSubArgs("train-args", trainCmd(), extra, "data", "size", "holdout", "coarse", "out", "method", "epochs", "steps", "resume", "arch", "eval", "report"); err != nil {
				return err
			}
			if err := checkSubArgs("eval-args", evalCmd(), evalExtra, "data", "size", "holdout", "coarse", "out", "model", "probe", "features", "random", "layers", "other-data"); err != nil {
				return err
			}
			trainArgs := func(m, dir string) []string {
				return append(slices.Clone(dataArgs), "--out", dir, "--method", m, "--epochs", fmt.Sprint(epochs), "--steps", fmt.Sprint(steps))
			}
			newRun := func(m, dir string) []string {
				return append(append(trainArgs(m, dir), "--arch", arch), strings.Fields(extra)...)
			}
			evalArgs := func(dir string) []string {
				return append(append(slices.Clone(dataArgs), "--model", dir, "--probe", probe), strings.Fields(evalExtra)...)
			}
			for _, m := range names {
				dir := filepath.Join(out, m)
				if err := checkSubRun(trainCmd(), newRun(m, dir)); err != nil {
					return fmt.Errorf("--train-args %q (for %s): %w", extra, m, err)
				}
				if err := checkSubRun(evalCmd(), evalArgs(dir)); err != nil {
					return fmt.Errorf("--eval-args %q: %w", evalExtra, err)
				}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", out, err)
			}
			cmp := comparison{Data: df.spec, Classifier: probe, Epochs: epochs, Steps: steps}
			for _, m := range names {
				dir := filepath.Join(out, m)
				args := append(trainArgs(m, dir), "--resume") // its model comes from its checkpoint
				if !train.HasRun(dir) {
					args = newRun(m, dir)
				}
				fmt.Fprintf(os.Stderr, "== %s: dim train %s\n", m, strings.Join(args, " "))
				if err := runSub(trainCmd(), args); err != nil {
					return fmt.Errorf("%s: %w", m, err)
				}
				if !evalCurrent(dir, probe) {
					if err := runSub(evalCmd(), evalArgs(dir)); err != nil {
						return fmt.Errorf("%s: eval: %w", m, err)
					}
				}
				row, err := comparisonRow(m, dir, probe)
				if err != nil {
					return err
				}
				cmp.Rows = append(cmp.Rows, row)
			}
			if err := checkpoint.WriteJSONAtomic(filepath.Join(out, "compare.json"), cmp); err != nil {
				return err
			}
			md := comparisonMarkdown(cmp)
			fmt.Print(md)
			if err := writeComparisonChart(filepath.Join(out, "compare.png"), cmp); err != nil {
				return err
			}
			if err := checkpoint.WriteFileAtomic(filepath.Join(out, "compare.md"), func(w io.Writer) error {
				_, err := io.WriteString(w, md)
				return err
			}); err != nil {
				return err
			}
			return writeComparisonReport(out, names, &df)
		},
	}
	f := cmd.Flags()
	df.register(f)
	f.StringVar(&out, "out", "", "directory of the runs and the comparison")
	f.StringVar(&methods, "methods", "dim,vae,aae,bigan,nat,supervised,random", "methods to compare")
	f.StringVar(&arch, "arch", "auto", "encoder, the same for every method")
	f.IntVar(&epochs, "epochs", 1, "epochs per method")
	f.IntVar(&steps, "steps", 0, "steps per method (overrides --epochs)")
	f.StringVar(&probe, "probe", "linear", "classifier on the frozen features: linear, svm, mlp or knn")
	f.StringVar(&extra, "train-args", "", "more dim train flags for every new run, space-separated (a resumed run keeps its own)")
	f.StringVar(&evalExtra, "eval-args", "", "more dim eval flags, space-separated (e.g. \"--probe-epochs 10\")")
	return cmd
}

// checkSubArgs parses args (the space-separated value of --flag) with c's
// flags and refuses a help flag (-h, --help: parsing them would end in
// pflag.ErrHelp, which cobra answers by printing compare's own help and
// exiting 0) and those compare sets itself (reserved), so that a typo or a
// conflict is reported before any training.
func checkSubArgs(flag string, c *cobra.Command, args string, reserved ...string) error {
	fields := strings.Fields(args)
	for _, f := range fields {
		if name, _, _ := strings.Cut(f, "="); name == "-h" || name == "--help" {
			return fmt.Errorf("--%s %q: %s asks for help, which compare does not pass on (see dim %s --help)", flag, args, f, c.Name())
		}
	}
	if err := c.ParseFlags(fields); errors.Is(err, pflag.ErrHelp) {
		// A help flag the loop above does not spell out (-xh).
		return fmt.Errorf("--%s %q: a help flag, which compare does not pass on (see dim %s --help)", flag, args, c.Name())
	} else if err != nil {
		return fmt.Errorf("--%s %q: %w", flag, args, err)
	}
	if rest := c.Flags().Args(); len(rest) > 0 {
		return fmt.Errorf("--%s %q: unexpected argument %q (flags only)", flag, args, rest[0])
	}
	for _, r := range reserved {
		if c.Flags().Changed(r) {
			return fmt.Errorf("--%s %q: --%s is set by compare itself (run dim %s directly for other values)", flag, args, r, c.Name())
		}
	}
	return nil
}

// evalCurrent reports whether dir's report of the classifier is of the
// run's current step and has the test accuracy of conv, fc and Y.
func evalCurrent(dir, probe string) bool {
	rep, err := eval.ReadReport(filepath.Join(dir, eval.ReportFile(probe)))
	if err != nil {
		return false
	}
	_, info, err := train.LoadEncoder(dir)
	if err != nil || rep.Step != info.Progress.Step {
		return false
	}
	for _, l := range encoder.Layers {
		if _, ok := rep.Lookup(l, probe, eval.MetricTestAcc); !ok {
			return false
		}
	}
	return true
}

// checkSubRun parses args with c's flags and runs c's checks of their
// values (its PreRunE, which c runs itself before its work) without
// running c: what c would refuse at once, compare refuses before it
// trains anything.
func checkSubRun(c *cobra.Command, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	if c.PreRunE == nil {
		return nil
	}
	return c.PreRunE(c, c.Flags().Args())
}

// runSub runs a subcommand in-process with args.
func runSub(c *cobra.Command, args []string) error {
	c.SetArgs(args)
	c.SilenceUsage, c.SilenceErrors = true, true
	return c.Execute()
}

// comparisonRow reads a method's evaluation and training time.
func comparisonRow(method, dir, probe string) (comparisonMethod, error) {
	rep, err := eval.ReadReport(filepath.Join(dir, eval.ReportFile(probe)))
	if err != nil {
		return comparisonMethod{}, err
	}
	row := comparisonMethod{Method: method, Dir: dir, TestAcc: map[string]float64{}}
	for _, l := range encoder.Layers {
		if r, ok := rep.Lookup(l, probe, eval.MetricTestAcc); ok {
			row.TestAcc[l] = r.Value
		}
	}
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		return row, err
	}
	var last int64
	for _, r := range recs {
		if r.Event == "start" {
			last = 0
		}
		if r.Event != "step" {
			continue
		}
		step, _ := r.Int("step")
		ms, _ := r.Float("ms_per_step")
		if step > last {
			row.TrainSeconds += ms * float64(step-last) / 1000
			last = step
		}
	}
	return row, nil
}

// writeComparisonChart draws the comparison's test accuracies as grouped
// bars (methods; conv, fc, Y) into path.
func writeComparisonChart(path string, c comparison) error {
	methods := make([]string, len(c.Rows))
	values := make([][]float64, len(encoder.Layers))
	for i := range values {
		values[i] = make([]float64, len(c.Rows))
	}
	for g, r := range c.Rows {
		methods[g] = r.Method
		for s, l := range encoder.Layers {
			values[s][g] = 100 * r.TestAcc[l]
		}
	}
	b, err := report.BarChart(fmt.Sprintf("%s classifier, test accuracy (%s)", c.Classifier, c.Data), "%", methods, encoder.Layers, values)
	if err != nil {
		return err
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// comparisonMarkdown is the table of the paper's Table 1: methods by
// layers, test accuracy in percent, and training time.
func comparisonMarkdown(c comparison) string {
	var b strings.Builder
	budget := fmt.Sprintf("%d epochs", c.Epochs)
	if c.Steps > 0 {
		budget = fmt.Sprintf("%d steps", c.Steps)
	}
	fmt.Fprintf(&b, "Test accuracy of a %s classifier on frozen features, %s, %s per method.\n\n", c.Classifier, c.Data, budget)
	b.WriteString("| method | conv | fc | Y | training |\n|---|---|---|---|---|\n")
	for _, r := range c.Rows {
		fmt.Fprintf(&b, "| %s |", r.Method)
		for _, l := range encoder.Layers {
			if v, ok := r.TestAcc[l]; ok {
				fmt.Fprintf(&b, " %.2f%% |", 100*v)
			} else {
				b.WriteString(" - |")
			}
		}
		fmt.Fprintf(&b, " %s |\n", time.Duration(r.TrainSeconds*float64(time.Second)).Round(time.Second))
	}
	return b.String()
}
