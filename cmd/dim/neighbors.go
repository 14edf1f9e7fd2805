package main

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/report"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
)

// gridGap is the gap in pixels around the cells of a neighbours grid.
const gridGap = report.Gap

func neighborsCmd() *cobra.Command {
	var (
		modelDir, out, tap, distance string
		df                           dataFlags
		k, queries, scale, batch     int
		otherData                    bool
	)
	cmd := &cobra.Command{
		Use:   "neighbors --model RUN_DIR [--data SPEC] [--out FILE.png]",
		Short: "Draw test images and their nearest training images by a layer's features",
		Long: `Embed the training split and the first --queries test images with the frozen
encoder of a run, standardise the features of --tap (default y) with the
training set's statistics, find each test image's --k nearest training images
(--distance euclidean or cosine) and draw them as a PNG grid: one row per test
image, the test image first, then its neighbours, nearest first, each image
scaled up --scale times (default: to at least 84 pixels). Without --data the
data set the run was trained on is used; another one needs --other-data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if modelDir == "" {
				return errors.New("--model RUN_DIR is required")
			}
			ranges := append(df.ranges(), atLeast("k", 1), atLeast("queries", 1), between("scale", 0, 64, "0 (automatic) to 64"), atLeast("batch", 0))
			if err := checkFlags(cmd.Flags(), ranges...); err != nil {
				return err
			}
			if err := eval.CheckDistance(distance); err != nil {
				return fmt.Errorf("--distance: %w", err)
			}
			enc, info, err := train.LoadEncoder(modelDir)
			if err != nil {
				return err
			}
			if err := runData(&df, cmd.Flags(), modelDir, info, otherData); err != nil {
				return err
			}
			if _, err := enc.TapShape(tap); err != nil {
				return fmt.Errorf("--tap %q: %w", tap, err)
			}
			if st, err := os.Stat(out); out == "" || err == nil && st.IsDir() || strings.HasSuffix(out, string(filepath.Separator)) {
				dir := out
				if dir == "" {
					dir = modelDir
				}
				out = filepath.Join(dir, "neighbors_"+tap+".png") // a directory, or one to make
			}
			if err := checkWritable("--out", filepath.Dir(out)); err != nil {
				return err
			}
			split, err := df.open(0)
			if err != nil {
				return err
			}
			defer split.Close()
			if split.Test == nil {
				return fmt.Errorf("%s has no test split (folders: pass --holdout)", df.spec)
			}
			qIdx := make([]int, min(queries, split.Test.Len()))
			for i := range qIdx {
				qIdx[i] = i
			}
			k = min(k, split.Train.Len()) // there are no more neighbours to draw
			nbs, err := trainNeighbors(enc, split.Train, data.Subset(split.Test, qIdx), tap, k, distance, batch)
			if err != nil {
				return err
			}
			img, err := neighborGrid(split.Test, split.Train, qIdx, nbs, scale)
			if err != nil {
				return err
			}
			if err := checkpoint.WriteFileAtomic(out, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(os.Stderr, "wrote %s (%d test images, %d neighbours each, by %s, %s distance)\n", out, len(qIdx), k, tap, distance)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "run directory written by dim train")
	df.register(f)
	f.Lookup("data").Usage += "; default: the run's"
	f.BoolVar(&otherData, otherDataFlag, false, otherDataUsage)
	f.StringVar(&out, "out", "", "PNG file to write, or a directory for neighbors_TAP.png (default: RUN_DIR/neighbors_TAP.png)")
	f.StringVar(&tap, "tap", encoder.TapY, "features to compare (y, fc, conv, or another tap of the encoder)")
	f.StringVar(&distance, "distance", eval.Euclidean, "euclidean or cosine")
	f.IntVar(&k, "k", 8, "neighbours per test image")
	f.IntVar(&queries, "queries", 10, "test images (the first ones of the test split)")
	f.IntVar(&scale, "scale", 0, "pixels per image pixel (0: enough for 84 pixels)")
	f.IntVar(&batch, "batch", 0, "images per forward pass (0: as many as fit 1 GiB of activations, at most 500)")
	return cmd
}

// trainNeighbors embeds ref and query with enc, standardises tap's
// features with ref's statistics and returns each query image's k nearest
// ref images, nearest first.
func trainNeighbors(enc encoder.Encoder, ref, query data.Dataset, tap string, k int, distance string, batch int) ([][]int, error) {
	o := encoder.EmbedOptions{Taps: []string{tap}, Batch: batch}
	er, err := embedSplit(enc, "train", ref, o)
	if err != nil {
		return nil, fmt.Errorf("train split: %w", err)
	}
	eq, err := embedSplit(enc, "test", query, o)
	if err != nil {
		return nil, fmt.Errorf("test split: %w", err)
	}
	xr, xq := er.Taps[tap], eq.Taps[tap]
	mean, std := eval.Standardize(xr)
	for _, x := range []*tensor.Tensor{xr, xq} {
		d := x.Shape[1]
		for i, v := range x.Data {
			x.Data[i] = (v - mean[i%d]) / std[i%d]
		}
	}
	return eval.Neighbors(xr, xq, k, distance)
}

// neighborGrid draws row i as query image qIdx[i] of queries, then the
// images nbs[i] of ref (report.Grid: scale 0 makes each at least 84 pixels
// tall).
func neighborGrid(queries, ref data.Dataset, qIdx []int, nbs [][]int, scale int) (*image.RGBA, error) {
	c, h, w := queries.Shape()
	if rc, rh, rw := ref.Shape(); rc != c || rh != h || rw != w {
		return nil, fmt.Errorf("neighbours: test images %dx%dx%d, training images %dx%dx%d", c, h, w, rc, rh, rw)
	}
	read := func(ds data.Dataset, i int, what string) ([]uint8, error) {
		px := make([]uint8, c*h*w)
		if err := ds.Image(i, px); err != nil {
			return nil, fmt.Errorf("neighbours: %s image %d: %w", what, i, err)
		}
		return px, nil
	}
	rows := make([][][]uint8, len(qIdx))
	for r, q := range qIdx {
		px, err := read(queries, q, "test")
		if err != nil {
			return nil, err
		}
		rows[r] = append(rows[r], px)
		for _, n := range nbs[r] {
			if px, err = read(ref, n, "training"); err != nil {
				return nil, err
			}
			rows[r] = append(rows[r], px)
		}
	}
	return report.Grid(rows, c, h, w, scale, 84, 0)
}
