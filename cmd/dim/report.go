package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/report"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
)

// reportFlags are the options of dim report that train --report and
// compare use with their defaults.
type reportFlags struct {
	df                                  dataFlags
	tap                                 string
	trainImages, testImages, queries, k int
	reconstructions, batch              int
}

func (r *reportFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	r.df.register(f)
	f.Lookup("data").DefValue = ""
	f.Lookup("data").Usage += "; default: the run's"
	f.StringVar(&r.tap, "tap", encoder.TapY, "features for the neighbours and the map")
	f.IntVar(&r.trainImages, "train-images", report.DefaultTrainImages, "training images searched for neighbours (evenly spaced)")
	f.IntVar(&r.testImages, "test-images", report.DefaultTestImages, "test images in the map (evenly spaced)")
	f.IntVar(&r.queries, "queries", report.DefaultQueries, "test images in the neighbour grid")
	f.IntVar(&r.k, "k", report.DefaultK, "neighbours per test image")
	f.IntVar(&r.reconstructions, "reconstructions", report.DefaultReconstructions, "test images a decoder reconstructs")
	f.IntVar(&r.batch, "batch", 0, "images per forward pass (0: as many as fit 1 GiB of activations, at most 500)")
}

// ranges are the ranges of the report's numeric flags: 0 is not a default
// here (report.Options takes it for one), so every count but --batch is
// at least 1.
func (r *reportFlags) ranges() []flagRange {
	ranges := r.df.ranges()
	for _, name := range []string{"train-images", "test-images", "queries", "k", "reconstructions"} {
		ranges = append(ranges, atLeast(name, 1))
	}
	return append(ranges, atLeast("batch", 0)) // 0: encoder.InferenceBatch
}

// options are report.Options of the flags; data is the data spec ("" for
// the run's own).
func (r *reportFlags) options(data string) report.Options {
	return report.Options{
		Data: data, DataOptions: dataOptions(&r.df), Tap: r.tap, TrainImages: r.trainImages, TestImages: r.testImages,
		Queries: r.queries, K: r.k, Reconstructions: r.reconstructions, Batch: r.batch, Log: os.Stderr,
	}
}

func dataOptions(d *dataFlags) data.Options {
	return data.Options{Size: d.size, HoldOut: d.holdOut, Coarse: d.coarse}
}

func reportCmd() *cobra.Command {
	var (
		runs  []string
		out   string
		title string
		rf    reportFlags
	)
	cmd := &cobra.Command{
		Use:   "report --run RUN_DIR [--run RUN_DIR ...] [--out FILE.html]",
		Short: "Write one self-contained HTML report of a run (or of several side by side)",
		Long: `Write an HTML page with everything embedded (nothing is fetched when it is
opened): the run's configuration and data set, its training curves from
metrics.jsonl (total loss, each term, learning rate, time per step), its
evaluation (eval*.json) when it has one, a grid of test images and their
nearest training images by --tap features, a PCA map of the test images'
features coloured by label, and reconstructions when the method has a
decoder. Several --run give one page with the runs side by side and a
summary table. The images come from the run's data set unless --data; at
most --train-images and --test-images of them are embedded, so a report
takes seconds. Default --out: RUN_DIR/report.html (several runs: report.html
in the current directory).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(runs) == 0 {
				return errors.New("--run RUN_DIR is required")
			}
			if err := checkFlags(cmd.Flags(), rf.ranges()...); err != nil {
				return err
			}
			spec := ""
			if cmd.Flags().Changed("data") {
				spec = rf.df.spec
			}
			// On a run's own data set its recorded options are used (report
			// opens it so); flags that contradict them are refused, as in
			// eval and embed.
			for _, r := range runs {
				info, err := train.ReadInfo(r)
				if err != nil {
					return err
				}
				own := data.Canonical(strings.TrimSuffix(info.Progress.Data, "+unlabeled"))
				if own == "" || spec != "" && spec != own {
					continue
				}
				d := rf.df
				d.spec = own
				if err := d.takeRecorded(cmd.Flags(), info.Progress.DataOptions, r); err != nil {
					return err
				}
			}
			o := rf.options(spec)
			if len(runs) > 1 && out == "" {
				out = "report.html"
			}
			if out != "" {
				var err error
				if out, err = reportPath(out); err != nil {
					return err
				}
			}
			if len(runs) == 1 {
				path, err := report.WriteRun(runs[0], out, o)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "wrote %s\n", path)
				return nil
			}
			if err := report.WriteComparison(runs, out, title, o); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&runs, "run", nil, "run directory written by dim train (repeat for a side-by-side report)")
	cmd.Flags().StringVar(&out, "out", "", "HTML file to write, or a directory to write report.html into (default: RUN_DIR/report.html)")
	cmd.Flags().StringVar(&title, "title", "", "title of a report of several runs")
	rf.register(cmd)
	return cmd
}

// maybeReport writes dir/report.html with the default options when on
// (train --report); df opens the run's data set.
func maybeReport(on bool, dir string, df *dataFlags) error {
	if !on {
		return nil
	}
	path, err := report.WriteRun(dir, "", report.Options{DataOptions: dataOptions(df), Log: os.Stderr})
	if err == nil {
		fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	}
	return err
}

// writeComparisonReport writes out/report.html with the runs of the
// methods side by side (compare).
func writeComparisonReport(out string, methods []string, df *dataFlags) error {
	dirs := make([]string, len(methods))
	for i, m := range methods {
		dirs[i] = filepath.Join(out, m)
	}
	path := filepath.Join(out, "report.html")
	if err := report.WriteComparison(dirs, path, "", report.Options{Data: df.spec, DataOptions: dataOptions(df), Log: os.Stderr}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return nil
}

// reportPath is the file --out names: out itself, or out/report.html when
// out is an existing directory or ends with a path separator. Its directory is made and checked for
// writing before any work.
func reportPath(out string) (string, error) {
	if st, err := os.Stat(out); err == nil && st.IsDir() || strings.HasSuffix(out, string(filepath.Separator)) {
		out = filepath.Join(out, "report.html") // a directory, or one to make
	}
	if err := checkWritable("--out", filepath.Dir(out)); err != nil {
		return "", err
	}
	return out, nil
}
