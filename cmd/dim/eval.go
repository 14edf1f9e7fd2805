package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/npy"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
)

type evalOptions struct {
	layers []string
	kind   string // the classifier of a step, or of the report: one of kinds, "all", or the kinds joined by "+"
	ndm    bool   // also the neural dependency measure of Y
	runs   int    // repetitions of each classifier (mean and std reported)
	ndmCfg eval.NDMConfig
	probe  eval.ProbeConfig
	mlp    eval.MLPConfig
	meas   measureOptions // --mine, --msssim, --labels-per-class (measures.go)

	kinds    []string // the classifiers to run: linear, svm, mlp, knn
	distance string   // of k-NN: eval.Euclidean or eval.Cosine
}

func evalCmd() *cobra.Command {
	var (
		modelDir, out, layers string
		featDir               string
		df                    dataFlags
		random                bool
		seed                  uint64
		o                     evalOptions
		probes                string
		otherData             bool
	)
	cmd := &cobra.Command{
		Use:   "eval --model RUN_DIR [--data SPEC]",
		Short: "Evaluate a trained encoder with classifiers on frozen features",
		Long: `Embed the training and test splits with the frozen encoder of any run directory
(with the transform the run recorded) and fit a classifier (--probe: linear
probe, linear SVM, the paper's MLP, or k-NN; "all" or a list such as
linear,knn for several) on standardised conv, fc and Y features; print train,
validation and test accuracy per layer (with several classifiers: one table
of test accuracies, classifiers and measures by layer), write eval.json
(eval_KIND.json for the other classifiers, eval_all.json for all of them,
eval_K1+K2.json for a list) into --out (default: the run directory) and append
an "eval" line to its metrics.jsonl. Without --data the data set the run was
trained on is used; another one is refused unless --other-data is given.
Flags, the layers and --out are checked, and features must be finite, before
any embedding or fitting. --ndm adds the
neural dependency measure of Y (its inputs checked before the probes run). A
measure that fails after the probes (an NDM critic that diverges, say) fails
the command, but the report is written first with the results before it.
--random evaluates a randomly initialised
encoder instead (a baseline), and --features DIR probes features saved as
NumPy files (train_LAYER.npy, test_LAYER.npy, train_labels.npy,
test_labels.npy: what dim embed writes, or another implementation's
features) with the same classifiers.`,
		Args: cobra.NoArgs,
		// The checks of the flags' values, before any file is read; dim
		// compare runs them on its --eval-args before it trains anything
		// (checkSubRun).
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			ranges := append(df.ranges(), atLeast("probe-epochs", 1), between("runs", 1, maxRuns, fmt.Sprintf("1 to %d", maxRuns)), atLeast("ndm-steps", 1))
			if err := checkFlags(cmd.Flags(), append(ranges, o.meas.ranges()...)...); err != nil {
				return err
			}
			var err error
			if o.layers, err = parseLayers(layers, nil); err != nil {
				return err
			}
			if err := eval.CheckDistance(o.distance); err != nil {
				return fmt.Errorf("--knn-distance: %w", err)
			}
			o.probe.Seed, o.mlp.Seed = seed, seed
			if o.kinds, o.kind, err = parseProbes(probes); err != nil {
				return err
			}
			o.mlp.Epochs = o.probe.Epochs
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if featDir != "" {
				if modelDir != "" || random {
					return errors.New("--features excludes --model and --random")
				}
				for _, fl := range []string{"data", "size", "holdout", "coarse", otherDataFlag} {
					if cmd.Flags().Changed(fl) {
						return fmt.Errorf("--features reads saved features: --%s does not apply (the data set was chosen when they were embedded)", fl)
					}
				}
				if _, err := os.Stat(filepath.Join(featDir, shardFile)); err == nil {
					return fmt.Errorf("--features %s holds one shard of a sharded embed (%s): merge the shards first (dim embed --merge)", featDir, shardFile)
				}
				if out == "" {
					out = featDir
				}
				if err := checkWritable("--out", out); err != nil {
					return err
				}
				rep, err := evaluateFeatures(featDir, o)
				if err != nil {
					return afterProbes(out, rep, err)
				}
				return writeReport(out, rep)
			}
			if !random && modelDir == "" {
				return errors.New("--model RUN_DIR is required (or --random, or --features DIR)")
			}
			if random && modelDir != "" {
				// A random encoder is not the run's: its report must not
				// replace the run's evaluation.
				return errors.New("--random excludes --model (the baseline is a fresh encoder for --data; write it elsewhere with --out)")
			}
			var (
				enc  encoder.Encoder
				info train.Info
			)
			if !random {
				if enc, info, err = train.LoadEncoder(modelDir); err != nil {
					return err
				}
				if err := runData(&df, cmd.Flags(), modelDir, info, otherData); err != nil {
					return err
				}
				if o.layers, err = parseLayers(layers, enc); err != nil {
					return err
				}
			}
			if out == "" {
				out = modelDir
			}
			if out != "" {
				if err := checkWritable("--out", out); err != nil {
					return err
				}
			}
			split, err := df.open(seed)
			if err != nil {
				return err
			}
			defer split.Close()
			if split.Test == nil {
				return fmt.Errorf("%s has no test split (folders: pass --holdout)", df.spec)
			}
			if random {
				var name string
				if name, err = archFor(split.Train, 0); err != nil {
					return fmt.Errorf("--random: %w (--size resizes folder, tinyimagenet and celeba images)", err)
				}
				if enc, err = encoder.New(encoder.Spec{Name: name}, tensor.NewRNG(seed)); err != nil {
					return err
				}
				if o.layers, err = parseLayers(layers, enc); err != nil {
					return err
				}
			}
			rep, err := evaluate(enc, split, o)
			if rep != nil {
				rep.Model, rep.RandomEncoder, rep.Step = modelDir, random, info.Progress.Step
			}
			if err != nil {
				return afterProbes(out, rep, err)
			}
			if out == "" {
				return printReport(rep)
			}
			return writeReport(out, rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "run directory written by dim train")
	f.StringVar(&featDir, "features", "", "probe the NumPy features in this directory instead of embedding with a model")
	df.register(f)
	f.Lookup("data").Usage += "; default with --model: the run's"
	f.StringVar(&out, "out", "", "directory for eval.json (default: the run directory, or the --features directory)")
	f.StringVar(&layers, "layers", "conv,fc,y", "feature layers to probe")
	f.BoolVar(&random, "random", false, "evaluate a randomly initialised encoder (baseline)")
	f.Uint64Var(&seed, "seed", 0, "seed of the classifiers, of the random encoder and of a folder's held-out split")
	f.IntVar(&o.probe.Epochs, "probe-epochs", 30, "most epochs of linear, SVM and MLP training (the number is chosen on a validation split; k-NN has none)")
	f.IntVar(&o.runs, "runs", 1, "repeat each classifier with seeds seed..seed+N-1 and report the mean and standard deviation of each accuracy (the paper: 5 for the SVM)")
	f.BoolVar(&o.ndm, "ndm", false, "also measure the neural dependency measure (NDM) of Y, with and without a sigmoid")
	f.IntVar(&o.ndmCfg.Steps, "ndm-steps", 2000, "training steps of the NDM critic (batches of 1000 rows)")
	o.meas.register(f)
	f.StringVar(&probes, "probe", "linear", "classifier: linear (logistic regression), svm (linear, hinge loss), mlp (the paper's: 200 hidden units, BatchNorm, dropout 0.1) or knn (k nearest neighbours); all, or a comma-separated list, for several")
	f.StringVar(&o.distance, "knn-distance", eval.Euclidean, "distance of k-NN: euclidean or cosine")
	f.BoolVar(&otherData, otherDataFlag, false, otherDataUsage)
	return cmd
}

// probeNames describes the probes of o.kinds in eval.json.
func probeNames(o evalOptions) string {
	names := make([]string, len(o.kinds))
	for i, k := range o.kinds {
		ko := o
		ko.kind = k
		names[i] = probeName(ko)
	}
	return strings.Join(names, "; ")
}

// probeName describes the probe of o.kind in eval.json.
func probeName(o evalOptions) string {
	switch o.kind {
	case "mlp":
		return "mlp (standardised features; Linear-200, BatchNorm, ReLU, dropout 0.1, Linear; Adam 1e-4, batch 64; the epoch chosen on 10% of train)"
	case "svm":
		return "svm (linear, multi-class hinge loss on standardised features, Adam 1e-3, batch 256; weight decay and epochs chosen on 10% of train)"
	case "knn":
		return "knn (" + o.distance + " distance between standardised features, majority vote; k in 1, 5, 10, 20 chosen on 10% of train)"
	}
	return "linear (logistic regression on standardised features, Adam 1e-3, batch 256; weight decay and epochs chosen on 10% of train)"
}

// evaluate embeds both splits with the frozen encoder and runs o's
// classifier on each of o.layers.
func evaluate(enc encoder.Encoder, split *data.Split, o evalOptions) (*eval.Report, error) {
	start := time.Now()
	classes := split.Train.NumClasses()
	if classes < 2 {
		return nil, fmt.Errorf("%s is unlabelled: a probe needs labels", split.Name)
	}
	taps := o.layers
	if o.ndm && !slices.Contains(taps, encoder.TapY) {
		taps = append(slices.Clone(taps), encoder.TapY)
	}
	tr, err := embedSplit(enc, "train", split.Train, o.meas.embedOptions(taps))
	if err != nil {
		return nil, fmt.Errorf("%s train split: %w", split.Name, err)
	}
	te, err := embedSplit(enc, "test", split.Test, o.meas.embedOptions(taps))
	if err != nil {
		return nil, fmt.Errorf("%s test split: %w", split.Name, err)
	}
	if o.ndm {
		if err := eval.CheckNDM(tr.Taps[encoder.TapY], te.Taps[encoder.TapY], o.ndmCfg); err != nil {
			return nil, err
		}
	}
	rep := newReport(o, split.Name, enc.Spec().Name)
	err = probeLayers(rep, o, classes, tr.Labels, te.Labels, func(l string) (*tensor.Tensor, *tensor.Tensor, error) {
		xtr, err := tr.Layer(l)
		if err != nil {
			return nil, nil, err
		}
		xte, err := te.Layer(l)
		return xtr, xte, err
	})
	if err != nil {
		return nil, err
	}
	if o.ndm {
		err = measureNDM(rep, o, tr.Taps[encoder.TapY], te.Taps[encoder.TapY])
	}
	if err == nil {
		err = o.meas.add(rep, enc, tr, te, classes, o.probe.Seed)
	}
	rep.Seconds = time.Since(start).Seconds()
	if err != nil {
		return rep, &measureError{err}
	}
	return rep, nil
}

// measureError is the error of a measure (NDM, MINE, MS-SSIM,
// semi-supervised) that failed after the probes ran: their rows, and
// those of the measures before it, are in the report that comes with it,
// which dim eval writes before returning the error (afterProbes).
type measureError struct{ err error }

func (e *measureError) Error() string { return e.err.Error() }
func (e *measureError) Unwrap() error { return e.err }

// afterProbes returns err, the error of evaluate or evaluateFeatures. When
// it is a measureError, the probes' rows in rep are kept first: rep is
// written into dir as dim eval writes a report (printed only when dir is
// ""), and the error says so. NDM's inputs are checked before the probes
// (eval.CheckNDM), so an NDM gets here only when its critic diverges
// while it trains; the other measures check their inputs when they run.
func afterProbes(dir string, rep *eval.Report, err error) error {
	var me *measureError
	if !errors.As(err, &me) || rep == nil || len(rep.Results) == 0 {
		return err
	}
	if dir == "" {
		if perr := printReport(rep); perr != nil {
			return fmt.Errorf("%w (printing the results computed before it: %v)", err, perr)
		}
		return fmt.Errorf("%w (the results computed before it are printed above)", err)
	}
	if werr := writeReport(dir, rep); werr != nil {
		return fmt.Errorf("%w (writing the results computed before it: %v)", err, werr)
	}
	return fmt.Errorf("%w (the results computed before it are written to %s)", err, filepath.Join(dir, eval.ReportFile(rep.Classifier)))
}

// newReport starts the report of o's classifier on data (a data set or a
// features directory); encoder is the encoder's architecture ("" when
// unknown).
func newReport(o evalOptions, data, encoder string) *eval.Report {
	return &eval.Report{Classifier: o.kind, Data: data, Encoder: encoder, Probe: probeNames(o)}
}

// measureNDM records the NDM of Y (train and test features [N,64]) with
// and without a sigmoid.
func measureNDM(rep *eval.Report, o evalOptions, train, test *tensor.Tensor) error {
	for _, sig := range []bool{false, true} {
		name := "y"
		if sig {
			name = "sigmoid_y"
		}
		fmt.Fprintf(os.Stderr, "ndm %s...\n", name)
		cfg := o.ndmCfg
		cfg.Sigmoid, cfg.Seed = sig, o.probe.Seed
		bar := stepProgress("ndm "+name, cfg.Steps, &cfg.Progress)
		v, err := eval.NDM(train, test, cfg)
		bar.finish()
		if err != nil {
			return fmt.Errorf("ndm of %s: %w", name, err)
		}
		rep.Add(ndmRow("y", sig, v, cfg))
	}
	return nil
}

// ndmRow is the result row of the NDM of layer (the Donsker-Varadhan
// estimate, in nats, of KL(joint || product of marginals) of its units, on
// the features or their sigmoid), measured with cfg.
func ndmRow(layer string, sigmoid bool, nats float64, cfg eval.NDMConfig) eval.Result {
	kind := eval.KindNDM
	if sigmoid {
		kind = eval.KindNDMSigmoid
	}
	r := eval.Result{Layer: layer, Kind: kind, Metric: eval.MetricNats, Value: nats}
	if cfg.Steps > 0 {
		r.Settings = map[string]any{"steps": cfg.Steps}
	}
	return r
}

// probeLayers fits each classifier of o.kinds on each of o.layers, whose
// train and test features features returns, o.runs times (seeds seed,
// seed+1, ...), and adds the rows (means over the runs) to rep.
func probeLayers(rep *eval.Report, o evalOptions, classes int, trainY, testY []int, features func(layer string) (train, test *tensor.Tensor, err error)) error {
	for _, l := range o.layers {
		xtr, xte, err := features(l)
		if err != nil {
			return err
		}
		for _, kind := range o.kinds {
			fmt.Fprintf(os.Stderr, "%s probe %s (%d features)...\n", kind, l, xtr.Shape[1])
			runs := make([][]eval.Result, max(o.runs, 1))
			for run := range runs {
				ro := o
				ro.kind, ro.probe.Hinge = kind, kind == eval.KindSVM
				ro.probe.Seed, ro.mlp.Seed = o.probe.Seed+uint64(run), o.mlp.Seed+uint64(run)
				if runs[run], err = classify(ro, l, classes, xtr, trainY, xte, testY); err != nil {
					return fmt.Errorf("%s probe %s: %w", kind, l, err)
				}
			}
			rows, err := eval.Combine(runs...)
			if err != nil {
				return fmt.Errorf("%s probe %s: %w", kind, l, err)
			}
			rep.Add(rows...)
		}
	}
	return nil
}

// classify runs the classifier of o.kind on one layer's features and
// returns its result rows.
func classify(o evalOptions, layer string, classes int, xtr *tensor.Tensor, trainY []int, xte *tensor.Tensor, testY []int) ([]eval.Result, error) {
	var (
		r   eval.ProbeResult
		err error
	)
	switch o.kind {
	case "knn":
		kr, err := eval.KNN(xtr, trainY, xte, testY, classes, eval.KNNConfig{Seed: o.probe.Seed, Distance: o.distance})
		return kr.Rows(layer, xtr.Shape[1]), err
	case "mlp":
		r, err = eval.MLPProbe(xtr, trainY, xte, testY, classes, o.mlp)
	default:
		r, err = eval.LinearProbe(xtr, trainY, xte, testY, classes, o.probe)
	}
	return r.Rows(layer, o.kind, xtr.Shape[1]), err
}

// evaluateFeatures runs the probes on features saved as NumPy files
// (train_LAYER.npy, test_LAYER.npy, train_labels.npy, test_labels.npy, as
// dim embed writes them, or any other encoder's, e.g. the PyTorch peer's).
func evaluateFeatures(dir string, o evalOptions) (*eval.Report, error) {
	start := time.Now()
	if o.meas.any() {
		return nil, errors.New("--mine, --msssim and --labels-per-class need images: use --model or --random, not --features")
	}
	trainY, err := readLabels(filepath.Join(dir, "train_labels.npy"))
	if err != nil {
		return nil, err
	}
	testY, err := readLabels(filepath.Join(dir, "test_labels.npy"))
	if err != nil {
		return nil, err
	}
	classes := 0
	for _, y := range append(append([]int(nil), trainY...), testY...) {
		classes = max(classes, y+1)
	}
	rep := newReport(o, dir, "")
	// Every file is read and checked before any fitting.
	need := slices.Clone(o.layers)
	if o.ndm && !slices.Contains(need, encoder.TapY) {
		need = append(need, encoder.TapY)
	}
	feats := map[string][2]*tensor.Tensor{}
	for _, l := range need {
		trPath, tePath := filepath.Join(dir, "train_"+l+".npy"), filepath.Join(dir, "test_"+l+".npy")
		xtr, err := readFeatures(trPath, len(trainY))
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l, err)
		}
		xte, err := readFeatures(tePath, len(testY))
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l, err)
		}
		if xtr.Shape[1] != xte.Shape[1] {
			return nil, fmt.Errorf("%s has %d features per row but %s has %d", trPath, xtr.Shape[1], tePath, xte.Shape[1])
		}
		feats[l] = [2]*tensor.Tensor{xtr, xte}
	}
	if o.ndm {
		if err := eval.CheckNDM(feats[encoder.TapY][0], feats[encoder.TapY][1], o.ndmCfg); err != nil {
			return nil, err
		}
	}
	err = probeLayers(rep, o, classes, trainY, testY, func(l string) (*tensor.Tensor, *tensor.Tensor, error) {
		return feats[l][0], feats[l][1], nil
	})
	if err != nil {
		return nil, err
	}
	if o.ndm {
		err = measureNDM(rep, o, feats[encoder.TapY][0], feats[encoder.TapY][1])
	}
	rep.Seconds = time.Since(start).Seconds()
	if err != nil {
		return rep, &measureError{err}
	}
	return rep, nil
}

// readLabels reads int64 class labels [N] from a .npy file.
func readLabels(path string) ([]int, error) {
	v, shape, err := npy.ReadInt64(path)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	if len(shape) != 1 || shape[0] == 0 {
		return nil, fmt.Errorf("%s: labels of shape %v: want [N] with N > 0", path, shape)
	}
	out := make([]int, len(v))
	for i, y := range v {
		if y < 0 || y > 1<<20 {
			return nil, fmt.Errorf("%s: label %d of sample %d is not a class index", path, y, i)
		}
		out[i] = int(y)
	}
	return out, nil
}

// readFeatures reads float32 features [N, ...] from a .npy file as [N, D];
// a NaN or Inf is an error naming the file, the row and the column.
func readFeatures(path string, n int) (*tensor.Tensor, error) {
	v, shape, err := npy.ReadFloat32(path)
	if err != nil {
		return nil, fmt.Errorf("read features: %w", err)
	}
	if len(shape) < 2 || shape[0] != n {
		return nil, fmt.Errorf("%s: features of shape %v for %d labels: want [%d, D]", path, shape, n, n)
	}
	x := &tensor.Tensor{Shape: []int{n, len(v) / n}, Data: v}
	if err := eval.CheckFinite(x); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// printReport prints the report's table on standard output, under a line
// naming the data set and the model: with several classifiers the grid of
// test accuracies and measures by layer, else the table of every metric.
func printReport(rep *eval.Report) error {
	model := rep.Model
	switch {
	case rep.RandomEncoder:
		model = "random " + rep.Encoder + " encoder"
	case model == "":
		model = "features"
	case rep.Encoder != "":
		model += " (" + rep.Encoder + ")"
	}
	fmt.Printf("data: %s  model: %s\n", rep.Data, model)
	if rep.Classifier != "" && !slices.Contains(classifiers, rep.Classifier) { // all, or a list
		return rep.WriteGrid(os.Stdout)
	}
	return rep.WriteTable(os.Stdout)
}

// writeReport prints the table, writes eval.json (eval_KIND.json for a
// classifier other than the linear probe, so that results of different
// classifiers sit side by side) into dir and appends an
// "eval" line to the run's metrics.
func writeReport(dir string, rep *eval.Report) error {
	if err := printReport(rep); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, eval.ReportFile(rep.Classifier))
	if err := rep.WriteFile(path); err != nil {
		return err
	}
	if m, err := runlog.Open(filepath.Join(dir, train.MetricsFile), true); err == nil {
		m.Log("eval", evalFields(rep))
		m.Close()
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return nil
}

// evalFields are the fields of the "eval" line of metrics.jsonl:
// classifier, data, random_encoder, LAYER_test_acc and LAYER_train_acc of
// the report's classifier, ndm_LAYER and ndm_sigmoid_LAYER for the NDM
// (ndm_y, ndm_sigmoid_y), and KIND_LAYER_METRIC (KIND_METRIC without a
// layer) for other measures.
func evalFields(rep *eval.Report) map[string]any {
	classifier := rep.Classifier
	if classifier == "" {
		classifier = eval.KindLinear
	}
	fields := map[string]any{"data": rep.Data, "random_encoder": rep.RandomEncoder, "classifier": classifier}
	for _, r := range rep.Results {
		switch {
		case r.Kind == classifier && (r.Metric == eval.MetricTestAcc || r.Metric == eval.MetricTrainAcc):
			fields[r.Layer+"_"+r.Metric] = r.Value
		case r.Kind == classifier: // val_acc: in eval.json only, as before
		case r.Kind == eval.KindNDM || r.Kind == eval.KindNDMSigmoid:
			fields[r.Kind+"_"+r.Layer] = r.Value
		case r.Layer == "":
			fields[r.Kind+"_"+r.Metric] = r.Value
		default:
			fields[r.Kind+"_"+r.Layer+"_"+r.Metric] = r.Value
		}
	}
	return fields
}
