package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func embedCmd() *cobra.Command {
	var modelDir, out, layers, shard, merge string
	var df dataFlags
	var batch int
	var otherData bool
	cmd := &cobra.Command{
		Use:   "embed --model RUN_DIR [--data SPEC] --out DIR",
		Short: "Write the frozen encoder's features as NumPy files",
		Long: `Embed every image of the data set's splits with the trained encoder of any run
directory (evaluation mode, with the run's recorded transform: centre crop,
normalisation) and write, per split: train_LAYER.npy for each of --layers
(default conv, fc, y; float32, one row per image, in data-set order),
train_labels.npy (int64, -1 if unlabelled), and the same with test_. Without
--data the data set the run was trained on is used; another one is refused
unless --other-data is given. The layers and --out are checked before
embedding, and a non-finite feature is an error naming the tap, image and
column. Features are written as they are computed, so memory does not grow
with the data set. --shard i/n embeds the i-th of n contiguous parts of each
split (for n machines; each writes its files, with zero rows where its part
is empty, and shard.json, which records the part, the model's weights, the
layers and the data) and --merge DIR0,...,DIRn-1 --out DIR joins the parts
into exactly the files an unsharded run writes. --merge checks the parts
before writing anything (all n, from one model, layers and data set, each
file with the rows its shard.json says) and refuses an --out that is one of
the parts or inside one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if merge != "" {
				if out == "" {
					return errors.New("--merge needs --out DIR")
				}
				var extra []string
				cmd.Flags().Visit(func(fl *pflag.Flag) {
					if fl.Name != "merge" && fl.Name != "out" {
						extra = append(extra, "--"+fl.Name)
					}
				})
				if len(extra) > 0 {
					return fmt.Errorf("--merge takes only --out: %s belong to the shards' embeds", strings.Join(extra, " "))
				}
				return mergeShards(strings.Split(merge, ","), out)
			}
			if modelDir == "" || out == "" {
				return errors.New("--model RUN_DIR and --out DIR are required")
			}
			sh, err := parseShard(shard)
			if err != nil {
				return err
			}
			if err := checkFlags(cmd.Flags(), append(df.ranges(), atLeast("batch", 0))...); err != nil {
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
			manifest := shardManifest{Shard: sh.i, Shards: sh.n, Splits: map[string]shardRange{}}
			if sh.n > 1 {
				if manifest.Source, err = newEmbedSource(enc, info, modelDir, taps, df); err != nil {
					return err
				}
			}
			// A shard.json left by an earlier embed into out must not
			// vouch for files this one rewrites.
			if err := os.Remove(filepath.Join(out, shardFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("--out %s: %w", out, err)
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
				start, count := sh.rangeOf(s.ds.Len())
				manifest.Splits[s.name] = shardRange{Start: start, Count: count, Total: s.ds.Len()}
				// An empty shard writes its files too, with zero rows.
				if err := embedToFiles(enc, s.name, data.Subset(s.ds, seq(start, count)), taps, batch, out); err != nil {
					return fmt.Errorf("%s %s split: %w", split.Name, s.name, err)
				}
			}
			if sh.n > 1 {
				return checkpoint.WriteJSONAtomic(filepath.Join(out, shardFile), manifest)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "run directory written by dim train")
	df.register(f)
	f.Lookup("data").Usage += "; default: the run's"
	f.BoolVar(&otherData, otherDataFlag, false, otherDataUsage)
	f.StringVar(&layers, "layers", strings.Join(encoder.Layers, ","), "taps to write (comma-separated; y alone avoids the large conv features)")
	f.StringVar(&out, "out", "", "output directory for the .npy files")
	f.IntVar(&batch, "batch", 0, "images per forward pass (0: as many as fit 1 GiB of activations, at most 500)")
	f.StringVar(&shard, "shard", "", "embed only part i of n of each split (i/n, from 0): n machines embed one data set, --merge joins them")
	f.StringVar(&merge, "merge", "", "join the --shard output directories DIR0,DIR1,... into --out instead of embedding")
	return cmd
}

// newEmbedSource records what a sharded embed computes its features
// from: the model (its directory, step and a hash of the encoder's
// weights), the layers and the data set options.
func newEmbedSource(enc encoder.Encoder, info train.Info, modelDir string, taps []string, df dataFlags) (*embedSource, error) {
	abs, err := filepath.Abs(modelDir)
	if err != nil {
		return nil, fmt.Errorf("--model %s: %w", modelDir, err)
	}
	sum, err := encoderHash(enc)
	if err != nil {
		return nil, fmt.Errorf("--model %s: %w", modelDir, err)
	}
	return &embedSource{
		Model: abs, Step: info.Progress.Step, Weights: sum, Encoder: enc.Spec().Name,
		Layers: taps, Data: df.spec, Size: df.size, HoldOut: df.holdOut, Coarse: df.coarse,
	}, nil
}

// countProgress is a progress bar on stderr fed with cumulative counts
// (images embedded, training steps done).
type countProgress struct {
	bar  *runlog.Progress
	done int
}

func newCountProgress(desc string, total int) *countProgress {
	return &countProgress{bar: runlog.NewProgress(os.Stderr, total, desc)}
}

func (p *countProgress) update(n int) { p.bar.Add(n-p.done, ""); p.done = n }
func (p *countProgress) finish()      { p.bar.Finish() }

// embedSplit embeds one split of a data set with a progress bar on stderr.
func embedSplit(enc encoder.Encoder, name string, ds data.Dataset, o encoder.EmbedOptions) (*encoder.Embeddings, error) {
	bar := newCountProgress("embed "+name, ds.Len())
	o.Progress = bar.update
	e, err := encoder.Embed(enc, ds, o)
	bar.finish()
	return e, err
}
