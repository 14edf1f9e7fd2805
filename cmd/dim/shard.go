package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
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
	// Source is what the features were computed from; nil in the
	// shard.json of a dim embed that did not record it.
	Source *embedSource `json:"source,omitempty"`
}

type shardRange struct {
	Start int `json:"start"`
	Count int `json:"count"`
	Total int `json:"total"`
}

// embedSource identifies the features of a sharded embed: shards merge
// only when every compared field is equal. Model and Step say where the
// weights came from, for messages; the encoder is identified by Weights,
// so that machines may read the same run from different paths.
type embedSource struct {
	Model string `json:"model"`
	Step  int    `json:"step"`
	// Weights is the SHA-256 of the encoder's spec (architecture, input
	// transform) and of its parameters and buffers as loaded.
	Weights string   `json:"weights_sha256"`
	Encoder string   `json:"encoder"`
	Layers  []string `json:"layers"`
	Data    string   `json:"data"`
	Size    int      `json:"size"`
	HoldOut float64  `json:"holdout"`
	Coarse  bool     `json:"coarse"`
}

// diff returns the name of the first compared field in which s and o
// differ, with both values, or "" when they agree.
func (s *embedSource) diff(o *embedSource) (field, a, b string) {
	for _, f := range []struct{ name, a, b string }{
		{"weights_sha256", s.Weights, o.Weights},
		{"encoder", s.Encoder, o.Encoder},
		{"layers", strings.Join(s.Layers, ","), strings.Join(o.Layers, ",")},
		{"data", s.Data, o.Data},
		{"size", strconv.Itoa(s.Size), strconv.Itoa(o.Size)},
		{"holdout", fmt.Sprint(s.HoldOut), fmt.Sprint(o.HoldOut)},
		{"coarse", strconv.FormatBool(s.Coarse), strconv.FormatBool(o.Coarse)},
	} {
		if f.a != f.b {
			return f.name, f.a, f.b
		}
	}
	return "", "", ""
}

// encoderHash returns the hex SHA-256 of enc's spec and of its encoder
// tensors (names, shapes and float32 values, in name order).
func encoderHash(enc encoder.Encoder) (string, error) {
	spec, err := json.Marshal(enc.Spec())
	if err != nil {
		return "", fmt.Errorf("encode the encoder's spec: %w", err)
	}
	h := sha256.New()
	h.Write(spec)
	tensors := nn.StateOf(enc, "encoder").Tensors()
	var b [8]byte
	for _, name := range slices.Sorted(maps.Keys(tensors)) {
		t := tensors[name]
		h.Write([]byte(name))
		h.Write([]byte{0})
		for _, d := range t.Shape {
			binary.LittleEndian.PutUint64(b[:], uint64(d))
			h.Write(b[:])
		}
		buf := make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// images says "1 image" or "n images".
func images(n int) string {
	if n == 1 {
		return "1 image"
	}
	return fmt.Sprintf("%d images", n)
}

func seq(start, count int) []int {
	idx := make([]int, count)
	for i := range idx {
		idx[i] = start + i
	}
	return idx
}

// embedToFiles embeds ds and streams each tap into DIR/SPLIT_TAP.npy and
// the labels into DIR/SPLIT_labels.npy, with a progress bar. An empty ds
// writes the files with zero rows.
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
	if ds.Len() > 0 {
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
	}
	for _, t := range taps {
		if err := writers[t].Close(); err != nil {
			return err
		}
	}
	if err := npy.WriteInt64(filepath.Join(dir, split+"_labels.npy"), labels, len(labels)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s_{%s,labels}.npy (%s) to %s\n", split, strings.Join(taps, ","), images(len(labels)), dir)
	return nil
}

// resolvePath returns p absolute and clean, with the symbolic links of
// its longest existing prefix resolved, so that two names of one
// directory compare equal.
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	rest := ""
	for q := abs; ; {
		if r, err := filepath.EvalSymlinks(q); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(q)
		if parent == q {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(q), rest)
		q = parent
	}
}

// within reports whether path is dir or below it (both resolved).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkMergeOut refuses an --out that is one of the shard directories or
// inside one, or that holds a shard.json of its own.
func checkMergeOut(dirs []string, out string) error {
	o, err := resolvePath(out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, d := range dirs {
		r, err := resolvePath(d)
		if err != nil {
			return fmt.Errorf("--merge: %w", err)
		}
		switch {
		case o == r:
			return fmt.Errorf("--merge: --out %s is the shard directory %s: merge into another directory", out, d)
		case within(o, r):
			return fmt.Errorf("--merge: --out %s is inside the shard directory %s: merge into another directory", out, d)
		}
	}
	if _, err := os.Stat(filepath.Join(out, shardFile)); err == nil {
		return fmt.Errorf("--merge: --out %s holds a %s (a --shard output): merge into another directory", out, shardFile)
	}
	return nil
}

// readManifest reads dir's shard.json.
func readManifest(dir string) (shardManifest, error) {
	var m shardManifest
	path := filepath.Join(dir, shardFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("--merge: %w (not a --shard output?)", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("--merge: %s: %w", path, err)
	}
	return m, nil
}

// checkSources refuses shards embedded from different models, layers or
// data. Shards whose shard.json predates the record all merge, with a
// warning; a mix of the two is refused.
func checkSources(dirs []string, manifests []shardManifest, order []int) error {
	first := order[0]
	for _, o := range order {
		a, b := manifests[first].Source, manifests[o].Source
		switch {
		case a == nil && b == nil:
		case a == nil || b == nil:
			old := first
			if b == nil {
				old = o
			}
			return fmt.Errorf("--merge: %s records no model identity (written by an older dim embed) but other shards do: re-embed shard %d", filepath.Join(dirs[old], shardFile), manifests[old].Shard)
		default:
			if field, va, vb := a.diff(b); field != "" {
				return fmt.Errorf("--merge: shards %s and %s differ in %s: %q (model %s, step %d) against %q (model %s, step %d)",
					dirs[first], dirs[o], field, va, a.Model, a.Step, vb, b.Model, b.Step)
			}
		}
	}
	if manifests[first].Source == nil {
		fmt.Fprintf(os.Stderr, "warning: the shards' %s files record no model identity (written by an older dim embed): that they come from one model and data set is not checked\n", shardFile)
	}
	return nil
}

// splitFiles returns the .npy files of split that every shard must hold:
// the recorded layers and labels, or (for a shard.json without them) the
// SPLIT_*.npy files of any shard.
func splitFiles(split string, dirs []string, manifests []shardManifest) ([]string, error) {
	if s := manifests[0].Source; s != nil {
		var files []string
		for _, l := range s.Layers {
			files = append(files, split+"_"+l+".npy")
		}
		return append(files, split+"_labels.npy"), nil
	}
	var files []string
	for _, d := range dirs {
		m, err := filepath.Glob(filepath.Join(d, split+"_*.npy"))
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			if b := filepath.Base(f); !slices.Contains(files, b) {
				files = append(files, b)
			}
		}
	}
	slices.Sort(files)
	return files, nil
}

// checkShardFile checks the header of one shard's file: the element type
// the embed writes, the rows shard.json says the shard holds, and the row
// shape of the other shards (rowShape, nil for the first).
func checkShardFile(dir, name, split string, m shardManifest, rowShape []int) ([]int, error) {
	path := filepath.Join(dir, name)
	h, err := npy.ReadHeader(path)
	if err != nil {
		return nil, fmt.Errorf("--merge: %w", err)
	}
	descr, dims := "<f4", 2
	if strings.HasSuffix(name, "_labels.npy") {
		descr, dims = "<i8", 1
	}
	switch {
	case h.Descr != descr || h.FortranOrder:
		return nil, fmt.Errorf("--merge: %s: type %s (fortran order %v), want %s in C order as dim embed writes", path, h.Descr, h.FortranOrder, descr)
	case len(h.Shape) < dims || (dims == 1 && len(h.Shape) != 1):
		return nil, fmt.Errorf("--merge: %s: shape %v, want %d dimensions", path, h.Shape, dims)
	case h.Shape[0] != m.Splits[split].Count:
		return nil, fmt.Errorf("--merge: %s has %d rows, but %s says shard %d holds %s of the %s split", path, h.Shape[0], filepath.Join(dir, shardFile), m.Shard, images(m.Splits[split].Count), split)
	case rowShape != nil && !slices.Equal(h.Shape[1:], rowShape):
		return nil, fmt.Errorf("--merge: %s: rows of shape %v, the other shards' %v", path, h.Shape[1:], rowShape)
	}
	return h.Shape[1:], nil
}

// mergeShards joins the output directories of `dim embed --shard i/n`
// (all n of them, any order) into out: for each split and file, the
// shards' rows in order, written as one .npy file. Everything is checked
// before anything is written: the shards' numbering and ranges, their
// models, layers and data, and every file's rows against shard.json. The
// files are written to a temporary directory and moved into out at the
// end, so that a failed merge leaves out as it was.
func mergeShards(dirs []string, out string) error {
	if slices.Contains(dirs, "") {
		return fmt.Errorf("--merge %q: an empty directory name", strings.Join(dirs, ","))
	}
	if err := checkMergeOut(dirs, out); err != nil {
		return err
	}
	manifests := make([]shardManifest, len(dirs))
	for k, d := range dirs {
		var err error
		if manifests[k], err = readManifest(d); err != nil {
			return err
		}
	}
	order := seq(0, len(dirs))
	slices.SortFunc(order, func(a, b int) int { return manifests[a].Shard - manifests[b].Shard })
	n := manifests[order[0]].Shards
	if n != len(dirs) {
		return fmt.Errorf("--merge: have shards %v of %d: want each of 0..%d once", shardNumbers(manifests), n, n-1)
	}
	for k, o := range order {
		if m := manifests[o]; m.Shards != n || m.Shard != k {
			return fmt.Errorf("--merge: have shards %v of %d: want each of 0..%d once", shardNumbers(manifests), n, n-1)
		}
	}
	if err := checkSources(dirs, manifests, order); err != nil {
		return err
	}
	first := manifests[order[0]]
	for o, m := range manifests {
		for split := range m.Splits {
			if _, ok := first.Splits[split]; !ok {
				return fmt.Errorf("--merge: %s has a %s split, %s not", filepath.Join(dirs[o], shardFile), split, filepath.Join(dirs[order[0]], shardFile))
			}
		}
	}
	splits := slices.Sorted(maps.Keys(first.Splits))
	files := map[string][]string{}
	for _, split := range splits {
		r0 := first.Splits[split]
		next := 0
		for _, o := range order {
			r, ok := manifests[o].Splits[split]
			switch {
			case !ok:
				return fmt.Errorf("--merge: %s has no %s split", filepath.Join(dirs[o], shardFile), split)
			case r.Start != next || r.Total != r0.Total || r.Count < 0:
				return fmt.Errorf("--merge: %s split: shard %d (%s) has images %d to %d of %d, expected from %d of %d", split, manifests[o].Shard, dirs[o], r.Start, r.Start+r.Count, r.Total, next, r0.Total)
			}
			next += r.Count
		}
		if next != r0.Total {
			return fmt.Errorf("--merge: %s split: shards cover %d of %d images", split, next, r0.Total)
		}
		names, err := splitFiles(split, dirs, manifests)
		if err != nil {
			return fmt.Errorf("--merge: %w", err)
		}
		for _, name := range names {
			var rowShape []int
			for _, o := range order {
				if rowShape, err = checkShardFile(dirs[o], name, split, manifests[o], rowShape); err != nil {
					return err
				}
			}
		}
		files[split] = names
	}
	return writeMerged(out, func(tmp string) error {
		for _, split := range splits {
			for _, name := range files[split] {
				if err := mergeFile(name, split, dirs, manifests, order, tmp); err != nil {
					return err
				}
			}
			fmt.Fprintf(os.Stderr, "merged %d shards of the %s split (%s) into %s\n", len(dirs), split, images(first.Splits[split].Total), out)
		}
		return nil
	})
}

// writeMerged runs write on a new temporary directory and moves what it
// wrote into out: the directory itself when out does not exist, else each
// file. On error the temporary directory is removed and out is left as it
// was (a new out is not created).
func writeMerged(out string, write func(tmp string) error) (err error) {
	fi, statErr := os.Stat(out)
	exists := statErr == nil
	switch {
	case exists && !fi.IsDir():
		return fmt.Errorf("--out %s: not a directory", out)
	case !exists && !errors.Is(statErr, fs.ErrNotExist):
		return fmt.Errorf("--out %s: %w", out, statErr)
	case exists:
		// Files of another embed (other layers, another model) would be
		// left beside the merged ones.
		entries, err := os.ReadDir(out)
		if err != nil {
			return fmt.Errorf("--out %s: %w", out, err)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				return fmt.Errorf("--out %s is not empty (it holds %s): merge into a new or empty directory", out, e.Name())
			}
		}
	}
	var tmp string
	if exists {
		tmp, err = os.MkdirTemp(out, ".merge.tmp-*")
	} else {
		parent := filepath.Dir(filepath.Clean(out))
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", parent, err)
		}
		tmp, err = os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-*")
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if !exists {
		if err := os.Chmod(tmp, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", out, err)
		}
		if err := os.Rename(tmp, out); err != nil {
			return fmt.Errorf("create %s: %w", out, err)
		}
		return nil
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("read %s: %w", tmp, err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(out, e.Name())); err != nil {
			return fmt.Errorf("move %s into %s: %w", e.Name(), out, err)
		}
	}
	return os.Remove(tmp)
}

func shardNumbers(ms []shardManifest) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Shard
	}
	return out
}

// mergeFile concatenates name from the shard directories in order into
// the directory out, checking each shard's rows against its shard.json.
func mergeFile(name, split string, dirs []string, manifests []shardManifest, order []int, out string) error {
	path := filepath.Join(out, name)
	rows := func(o int, shape []int) error {
		if want := manifests[o].Splits[split].Count; len(shape) == 0 || shape[0] != want {
			return fmt.Errorf("--merge: %s: shape %v, want %d rows", filepath.Join(dirs[o], name), shape, want)
		}
		return nil
	}
	if strings.HasSuffix(name, "_labels.npy") {
		var all []int64
		for _, o := range order {
			v, shape, err := npy.ReadInt64(filepath.Join(dirs[o], name))
			if err != nil {
				return fmt.Errorf("--merge: %w", err)
			}
			if err := rows(o, shape); err != nil {
				return err
			}
			all = append(all, v...)
		}
		return npy.WriteInt64(path, all, len(all))
	}
	var w *npy.Float32Writer
	defer func() {
		if w != nil {
			w.Abort() // a no-op once closed
		}
	}()
	for _, o := range order {
		v, shape, err := npy.ReadFloat32(filepath.Join(dirs[o], name))
		if err != nil {
			return fmt.Errorf("--merge: %w", err)
		}
		if err := rows(o, shape); err != nil {
			return err
		}
		if w == nil {
			if w, err = npy.NewFloat32Writer(path, shape[1:]...); err != nil {
				return err
			}
		}
		if err := w.Write(v); err != nil {
			return err
		}
	}
	return w.Close()
}
