package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/npy"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
)

func embedCmd() *cobra.Command {
	var modelDir, out, layers string
	var df dataFlags
	var batch int
	var otherData bool
	cmd := &cobra.Command{
		Use:   "embed --model RUN_DIR --data SPEC --out DIR",
		Short: "Write the frozen encoder's features as NumPy files",
		Long: `Embed every image of the data set's splits with the trained encoder of any run
directory (evaluation mode, with the run's recorded transform: centre crop,
normalisation) and write, per split: train_LAYER.npy for each of --layers
(default conv, fc, y; float32, one row per image, in data-set order),
train_labels.npy (int64, -1 if unlabelled), and the same with test_. Without
--data the data set the run was trained on is used; another one is refused
unless --other-data is given. The layers and --out are checked before
embedding, and a non-finite feature is an error naming the tap, image and
column.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if modelDir == "" || out == "" {
				return errors.New("--model RUN_DIR and --out DIR are required")
			}
			if err := checkFlags(cmd.Flags(), append(df.ranges(), atLeast("batch", 1))...); err != nil {
				return err
			}
			enc, info, err := train.LoadEncoder(modelDir)
			if err != nil {
				return err
			}
			if err := runData(&df, cmd.Flags(), modelDir, info, otherData); err != nil {
				return err
			}
			taps, err := parseLayers(layers, enc)
			if err != nil {
				return err
			}
			if err := checkWritable("--out", out); err != nil {
				return err
			}
			split, err := df.open(0)
			if err != nil {
				return err
			}
			defer split.Close()
			for _, s := range []struct {
				name string
				ds   data.Dataset
			}{{"train", split.Train}, {"test", split.Test}} {
				if s.ds == nil {
					continue
				}
				e, err := embedSplit(enc, s.name, s.ds, encoder.EmbedOptions{Batch: batch, Taps: taps})
				if err != nil {
					return fmt.Errorf("%s %s split: %w", split.Name, s.name, err)
				}
				for _, l := range taps {
					t := e.Taps[l]
					path := filepath.Join(out, s.name+"_"+l+".npy")
					if err := npy.WriteFloat32(path, t.Data, t.Shape...); err != nil {
						return err
					}
				}
				labels := make([]int64, len(e.Labels))
				for i, v := range e.Labels {
					labels[i] = int64(v)
				}
				if err := npy.WriteInt64(filepath.Join(out, s.name+"_labels.npy"), labels, len(labels)); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "wrote %s_{%s,labels}.npy (%d images) to %s\n", s.name, strings.Join(taps, ","), len(labels), out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "run directory written by dim train")
	df.register(f)
	f.Lookup("data").Usage += "; default: the run's"
	f.BoolVar(&otherData, otherDataFlag, false, "allow --data to differ from the data set the run was trained on")
	f.StringVar(&layers, "layers", strings.Join(encoder.Layers, ","), "taps to write (comma-separated; y alone avoids the large conv features)")
	f.StringVar(&out, "out", "", "output directory for the .npy files")
	f.IntVar(&batch, "batch", 500, "images per forward pass")
	return cmd
}

// embedSplit embeds one split of a data set with a progress bar on stderr.
func embedSplit(enc encoder.Encoder, name string, ds data.Dataset, o encoder.EmbedOptions) (*encoder.Embeddings, error) {
	bar := runlog.NewProgress(os.Stderr, ds.Len(), "embed "+name)
	done := 0
	o.Progress = func(n int) { bar.Add(n-done, ""); done = n }
	e, err := encoder.Embed(enc, ds, o)
	bar.Finish()
	return e, err
}
