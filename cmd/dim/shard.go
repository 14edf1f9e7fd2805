package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/npy"
)

// shardFile describes the part of the data set a sharded embed wrote.
const shardFile = "shard.json"

// shard is part i of n (n 1: everything).
type shard struct{ i, n int }

// parseShard reads --shard i/n ("" is 0/1).
func parseShard(v string) (shard, error) {
	if v == "" {
		return shard{0, 1}, nil
	}
	a, b, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return shard{}, fmt.Errorf("--shard %q: want i/n with 0 <= i < n", v)
	}
	return shard{i, n}, nil
}

// rangeOf returns the first image and the count of this shard of total.
func (s shard) rangeOf(total int) (start, count int) {
	start, end := s.i*total/s.n, (s.i+1)*total/s.n
	return start, end - start
}

// shardManifest is shard.json.
type shardManifest struct {
	Shard  int                   `json:"shard"`
	Shards int                   `json:"shards"`
	Splits map[string]shardRange `json:"splits"`
}

type shardRange struct {
	Start int `json:"start"`
	Count int `json:"count"`
	Total int `json:"total"`
}

func seq(start, count int) []int {
	idx := make([]int, count)
	for i := range idx {
		idx[i] = start + i
	}
	return idx
}

// embedToFiles embeds ds and streams each tap into DIR/SPLIT_TAP.npy and
// the labels into DIR/SPLIT_labels.npy, with a progress bar.
func embedToFiles(enc encoder.Encoder, split string, ds data.Dataset, taps []string, batch int, dir string) error {
	writers := map[string]*npy.Float32Writer{}
	defer func() {
		for _, w := range writers {
			w.Abort() // a no-op once closed
		}
	}()
	widths, err := encoder.TapWidths(enc, taps)
	if err != nil {
		return err
	}
	for _, t := range taps {
		if writers[t], err = npy.NewFloat32Writer(filepath.Join(dir, split+"_"+t+".npy"), widths[t]); err != nil {
			return err
		}
	}
	labels := make([]int64, 0, ds.Len())
	bar := newCountProgress("embed "+split, ds.Len())
	err = encoder.EmbedEach(enc, ds, encoder.EmbedOptions{Batch: batch, Taps: taps, Progress: bar.update}, func(c *encoder.Chunk) error {
		for _, t := range taps {
			if err := writers[t].Write(c.Taps[t].Data); err != nil {
				return err
			}
		}
		for _, l := range c.Labels {
			labels = append(labels, int64(l))
		}
		return nil
	})
	bar.finish()
	if err != nil {
		return err
	}
	for _, t := range taps {
		if err := writers[t].Close(); err != nil {
			return err
		}
	}
	if err := npy.WriteInt64(filepath.Join(dir, split+"_labels.npy"), labels, len(labels)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s_{%s,labels}.npy (%d images) to %s\n", split, strings.Join(taps, ","), len(labels), dir)
	return nil
}

// mergeShards joins the output directories of `dim embed --shard i/n`
// (all n of them, any order) into out: for each split and file, the
// shards' rows in order, written as one .npy file.
func mergeShards(dirs []string, out string) error {
	manifests := make([]shardManifest, len(dirs))
	for k, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, shardFile))
		if err != nil {
			return fmt.Errorf("--merge: %w (not a --shard output?)", err)
		}
		if err := json.Unmarshal(b, &manifests[k]); err != nil {
			return fmt.Errorf("--merge: %s: %w", filepath.Join(d, shardFile), err)
		}
	}
	order := seq(0, len(dirs))
	slices.SortFunc(order, func(a, b int) int { return manifests[a].Shard - manifests[b].Shard })
	n := manifests[0].Shards
	for k, o := range order {
		if m := manifests[o]; m.Shards != n || m.Shard != k {
			return fmt.Errorf("--merge: have shards %v of %d: want each of 0..%d once", shardNumbers(manifests), n, n-1)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	for split, r0 := range manifests[order[0]].Splits {
		next := 0
		for _, o := range order {
			r := manifests[o].Splits[split]
			if r.Start != next || r.Total != r0.Total {
				return fmt.Errorf("--merge: %s split: shard %d starts at %d, expected %d", split, manifests[o].Shard, r.Start, next)
			}
			next += r.Count
		}
		if next != r0.Total {
			return fmt.Errorf("--merge: %s split: shards cover %d of %d images", split, next, r0.Total)
		}
		files, err := filepath.Glob(filepath.Join(dirs[order[len(order)-1]], split+"_*.npy"))
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := mergeFile(filepath.Base(f), dirs, order, out); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "merged %d shards of the %s split (%d images) into %s\n", len(dirs), split, r0.Total, out)
	}
	return nil
}

func shardNumbers(ms []shardManifest) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Shard
	}
	return out
}

// mergeFile concatenates name from the shard directories in order.
func mergeFile(name string, dirs []string, order []int, out string) error {
	path := filepath.Join(out, name)
	if strings.HasSuffix(name, "_labels.npy") {
		var all []int64
		for _, o := range order {
			v, _, err := npy.ReadInt64(filepath.Join(dirs[o], name))
			if err != nil {
				return fmt.Errorf("--merge: %w", err)
			}
			all = append(all, v...)
		}
		return npy.WriteInt64(path, all, len(all))
	}
	var w *npy.Float32Writer
	for _, o := range order {
		v, shape, err := npy.ReadFloat32(filepath.Join(dirs[o], name))
		if err != nil {
			if w != nil {
				w.Abort()
			}
			return fmt.Errorf("--merge: %w", err)
		}
		if w == nil {
			if w, err = npy.NewFloat32Writer(path, shape[1:]...); err != nil {
				return err
			}
		}
		if err := w.Write(v); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}
