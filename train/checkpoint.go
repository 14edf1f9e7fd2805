package train

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Files of a run directory.
const (
	// WeightsFile holds the method's parameters and buffers (PyTorch-style
	// names, the encoder's under "encoder."), its optimisers' state under
	// their prefixes, and Info as metadata: one file, written atomically, so
	// a checkpoint is always consistent.
	WeightsFile = "model.safetensors"
	// ConfigFile repeats Info as JSON for people and tools.
	ConfigFile = "config.json"
	// MetricsFile holds one JSON object per line: losses, timings, accuracies.
	MetricsFile = "metrics.jsonl"
	// PrevWeightsFile is the checkpoint before the latest, kept until the
	// next one is complete: Load falls back to it when WeightsFile is
	// missing or damaged. Save moves only a checkpoint that reads back
	// whole into it, so it is always a good one.
	PrevWeightsFile = "model.prev.safetensors"
	// DivergedWeightsFile is where Run sets aside the latest checkpoint
	// when the loss of its weights diverged (see Options.DivergeFactor):
	// not a checkpoint of the run any more (Load and HasRun ignore it),
	// kept for inspection, or to be moved back by hand after a false
	// alarm.
	DivergedWeightsFile = "model.diverged.safetensors"
	// metaKey is the safetensors metadata key holding Info, and crcKey the
	// one holding each tensor's CRC-32 (IEEE) of its float32 bytes.
	metaKey = "deepinfomax"
	crcKey  = "deepinfomax_crc32"
	// encoderPrefix names the encoder's tensors.
	encoderPrefix = "encoder."
)

// Progress is how far a run has got.
type Progress struct {
	Epoch  int    `json:"epoch"`  // completed epochs
	Sample int    `json:"sample"` // images consumed in the current epoch
	Step   int    `json:"step"`   // total optimiser steps
	Data   string `json:"data"`   // the data spec trained on
	// DataOptions are the options Data was opened with (data.Options.
	// Recorded: size, hold-out fraction and its seed, CIFAR-100's coarse
	// labels); nil in runs made before they were recorded.
	DataOptions *data.Options `json:"data_options,omitempty"`
	// Augment is the training images' augmentation (nil in runs made
	// before it was recorded).
	Augment *Augment `json:"augment,omitempty"`
	// Divergence holds the references of the divergence test (see
	// Options.DivergeFactor) after Step, so that a resumed run judges its
	// first losses as the uninterrupted run would have; nil in runs made
	// before they were recorded (their first step after --resume is then
	// judged only for NaN and infinity).
	Divergence *DivergenceRefs `json:"divergence,omitempty"`
}

// Info is what a checkpoint says about its run: enough to rebuild the
// method (Load) or only its encoder (LoadEncoder).
type Info struct {
	Method   string          `json:"method"`
	Config   json.RawMessage `json:"config"`
	Encoder  encoder.Spec    `json:"encoder"`
	Progress Progress        `json:"progress"`
}

// Save writes the method's weights, its optimisers' state and the progress
// into dir atomically (model.safetensors, then config.json). The checkpoint
// it replaces becomes PrevWeightsFile if it reads back whole (tensors,
// metadata and checksums, as Load checks them); a damaged one is
// overwritten instead, with a warning on stderr, so that PrevWeightsFile
// stays the last good checkpoint. Weights or optimiser state that are not
// finite (NaN, infinite: training diverged) are an error and are not
// written. Errors name what could not be written; an empty dir, a nil m
// and a method without an encoder are errors too.
func Save(dir string, m Method, p Progress) error {
	switch {
	case dir == "":
		return errors.New("train: save: no run directory (empty dir)")
	case m == nil:
		return errors.New("train: save: nil method")
	case m.Encoder() == nil:
		return fmt.Errorf("train: save: method %s has no encoder", m.Name())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	tensors, meta, info, err := encodeCheckpoint(m, p)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(path); err == nil {
		// Only a checkpoint that reads back whole becomes the previous one:
		// a damaged latest (which a resumed run skipped for the previous)
		// would otherwise replace the only good checkpoint.
		if _, _, _, err := readCheckpointFile(dir, WeightsFile, nil); err != nil {
			fmt.Fprintf(os.Stderr, "warning: %v; replacing it, keeping the previous checkpoint\n", err)
		} else if err := os.Rename(path, filepath.Join(dir, PrevWeightsFile)); err != nil {
			return fmt.Errorf("keep the previous checkpoint: %w", err)
		}
	}
	if err := checkpoint.Save(path, tensors, meta); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := checkpoint.WriteJSONAtomic(filepath.Join(dir, ConfigFile), info); err != nil {
		return fmt.Errorf("save %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	return nil
}

// encodeCheckpoint returns what a checkpoint of m at p holds: its
// tensors (weights, buffers, optimiser state under its prefixes), the
// metadata (Info and the checksums) and the Info. Tensors that are not
// finite are a *nonFiniteError.
func encodeCheckpoint(m Method, p Progress) (map[string]*tensor.Tensor, map[string]string, Info, error) {
	tensors := nn.StateOf(m, "").Tensors()
	for _, o := range m.Optimizers() {
		for k, v := range o.Opt.State() {
			tensors[o.Prefix+k] = v
		}
	}
	if err := checkFinite(tensors); err != nil {
		return nil, nil, Info{}, err
	}
	cfg, err := json.Marshal(m.Config())
	if err != nil {
		return nil, nil, Info{}, fmt.Errorf("encode %s config: %w", m.Name(), err)
	}
	info := Info{Method: m.Name(), Config: cfg, Encoder: m.Encoder().Spec(), Progress: p}
	js, err := json.Marshal(info)
	if err != nil {
		return nil, nil, Info{}, fmt.Errorf("encode run info: %w", err)
	}
	crc, err := json.Marshal(checksums(tensors))
	if err != nil {
		return nil, nil, Info{}, fmt.Errorf("encode checksums: %w", err)
	}
	return tensors, map[string]string{metaKey: string(js), crcKey: string(crc)}, info, nil
}

// keepDiverged writes m's weights at p, whose loss diverged before they
// were checkpointed, to DivergedWeightsFile in dir (atomically, replacing
// an older one), leaving the run's checkpoints as they are. It returns a
// clause saying where they are and which checkpoint the run has, for the
// error that stops the run.
func keepDiverged(dir string, m Method, p Progress) string {
	path := filepath.Join(dir, DivergedWeightsFile)
	tensors, meta, _, err := encodeCheckpoint(m, p)
	if err == nil {
		err = checkpoint.Save(path, tensors, meta)
	}
	note := fmt.Sprintf("the weights after step %d, which gave this loss, were written to %s, not checkpointed; ", p.Step, DivergedWeightsFile)
	if err != nil {
		note = fmt.Sprintf("the weights after step %d, which gave this loss, are not checkpointed (nor kept in %s: %v); ", p.Step, DivergedWeightsFile, err)
	}
	return note + setAsideDiverged(dir, -1)
}

// HasRun reports whether dir holds a checkpoint (the latest or the
// previous one): a run to resume, or not to overwrite.
func HasRun(dir string) bool {
	for _, f := range []string{WeightsFile, PrevWeightsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// nonFiniteError is Save's refusal of weights that are not finite.
type nonFiniteError struct {
	tensor string
	value  float32
}

func (e *nonFiniteError) Error() string {
	return fmt.Sprintf("tensor %s holds %v: the weights are not finite, training diverged; not checkpointed", e.tensor, e.value)
}

// checkFinite returns a *nonFiniteError naming the first tensor (by name)
// that holds a NaN or an infinity.
func checkFinite(tensors map[string]*tensor.Tensor) error {
	for _, name := range slices.Sorted(maps.Keys(tensors)) {
		for _, v := range tensors[name].Data {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return &nonFiniteError{name, v}
			}
		}
	}
	return nil
}

// setAsideDiverged is called when the loss of the weights after step bad
// diverged: a checkpoint of that step holds those weights, and a run
// resumed from it would diverge again. If dir's latest checkpoint is of
// step bad, it moves it to DivergedWeightsFile and makes the previous
// checkpoint the latest (when it reads back whole and is older), or
// leaves none. It returns a clause saying where the run's checkpoint is
// now, for the error that stops the run.
func setAsideDiverged(dir string, bad int) string {
	latest := filepath.Join(dir, WeightsFile)
	note := ""
	if h, err := checkpoint.LoadHeader(latest); err == nil {
		if info, err := metaInfo(latest, h.Metadata); err == nil && info.Progress.Step == bad {
			if err := os.Rename(latest, filepath.Join(dir, DivergedWeightsFile)); err != nil {
				return fmt.Sprintf("the checkpoint of step %d holds the weights that diverged but could not be set aside: %v", bad, err)
			}
			note = fmt.Sprintf("the checkpoint of step %d, whose weights gave this loss, was moved to %s; ", bad, DivergedWeightsFile)
			cfgPath := filepath.Join(dir, ConfigFile)
			if _, pi, _, err := readCheckpointFile(dir, PrevWeightsFile, nil); err == nil && pi.Progress.Step < bad {
				if err := os.Rename(filepath.Join(dir, PrevWeightsFile), latest); err != nil {
					return note + fmt.Sprintf("the previous checkpoint could not become the latest: %v", err)
				}
				if err := checkpoint.WriteJSONAtomic(cfgPath, pi); err != nil {
					note += fmt.Sprintf("(%s not updated: %v) ", cfgPath, err)
				}
			} else if !HasRun(dir) {
				os.Remove(cfgPath)
			}
		}
	}
	if info, err := ReadInfo(dir); err == nil {
		return note + fmt.Sprintf("the run's checkpoint is of step %d", info.Progress.Step)
	}
	return note + "no checkpoint remains"
}

// checksums returns the CRC-32 of each tensor's float32 data.
func checksums(tensors map[string]*tensor.Tensor) map[string]uint32 {
	out := make(map[string]uint32, len(tensors))
	var buf []byte
	for name, t := range tensors {
		buf = buf[:0]
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		out[name] = crc32.ChecksumIEEE(buf)
	}
	return out
}

// readCheckpoint reads the tensors and Info of dir's checkpoint, falling
// back (with a warning on stderr) to the previous checkpoint when the
// latest is missing or damaged.
func readCheckpoint(dir string, check func(name string) bool) (map[string]*tensor.Tensor, Info, string, error) {
	tensors, info, path, err := readCheckpointFile(dir, WeightsFile, check)
	if err == nil {
		return tensors, info, path, nil
	}
	if pt, pi, pp, perr := readCheckpointFile(dir, PrevWeightsFile, check); perr == nil {
		fmt.Fprintf(os.Stderr, "warning: %v; using the previous checkpoint %s (step %d)\n", err, pp, pi.Progress.Step)
		return pt, pi, pp, nil
	}
	return nil, info, path, err
}

// readCheckpointFile reads one checkpoint file of dir and verifies its
// tensors' checksums (when it has them): those check accepts, or all when
// check is nil.
func readCheckpointFile(dir, file string, check func(name string) bool) (map[string]*tensor.Tensor, Info, string, error) {
	path := filepath.Join(dir, file)
	tensors, meta, err := checkpoint.Load(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Info{}, path, fmt.Errorf("%s: no checkpoint (is %s a run directory made by dim train?)", path, dir)
		}
		return nil, Info{}, path, err
	}
	info, err := metaInfo(path, meta)
	if err != nil {
		return nil, Info{}, path, err
	}
	if raw, ok := meta[crcKey]; ok {
		var want map[string]uint32
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			return nil, info, path, fmt.Errorf("%s: bad checksums: %w", path, err)
		}
		got := checksums(tensors)
		for _, name := range slices.Sorted(maps.Keys(want)) {
			if check != nil && !check(name) {
				continue
			}
			if got[name] != want[name] {
				return nil, info, path, fmt.Errorf("%s: tensor %s is damaged (checksum %08x, saved %08x)", path, name, got[name], want[name])
			}
		}
	}
	return tensors, info, path, nil
}

// ReadInfo returns the metadata of dir's checkpoint (the previous one when
// the latest is missing or unreadable) from its header alone, without
// reading or checking the tensors: what a command needs to know about a
// run before it loads one.
func ReadInfo(dir string) (Info, error) {
	var firstErr error
	for _, file := range []string{WeightsFile, PrevWeightsFile} {
		path := filepath.Join(dir, file)
		h, err := checkpoint.LoadHeader(path)
		if err == nil {
			var info Info
			if info, err = metaInfo(path, h.Metadata); err == nil {
				return info, nil
			}
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return Info{}, firstErr
}

// metaInfo decodes the Info in the metadata of the checkpoint at path.
func metaInfo(path string, meta map[string]string) (Info, error) {
	js, ok := meta[metaKey]
	if !ok {
		return Info{}, fmt.Errorf("%s: no deepinfomax metadata (not written by dim train)", path)
	}
	info, err := parseInfo([]byte(js))
	if err != nil {
		return Info{}, fmt.Errorf("%s: bad metadata: %w", path, err)
	}
	return info, nil
}

// parseInfo decodes Info, converting the metadata of runs written before
// methods were plug-ins ({"config": {"arch", "mean", "std", ...},
// "progress"}): those are DIM runs whose encoder was named by "arch".
func parseInfo(js []byte) (Info, error) {
	var info Info
	if err := json.Unmarshal(js, &info); err != nil {
		return info, err
	}
	if info.Method != "" {
		return info, nil
	}
	var old struct {
		Arch string    `json:"arch"`
		Mean []float32 `json:"mean"`
		Std  []float32 `json:"std"`
	}
	if err := json.Unmarshal(info.Config, &old); err != nil || old.Arch == "" {
		return info, fmt.Errorf("no method and no encoder in %s", js)
	}
	info.Method = "dim"
	info.Encoder = encoder.Spec{Name: old.Arch, Transform: data.Transform{Mean: old.Mean, Std: old.Std}}
	return info, nil
}

// Load reads a run directory written by Save and rebuilds its method, with
// its weights and its optimisers' state, ready to continue.
func Load(dir string) (Method, Progress, error) {
	tensors, info, path, err := readCheckpoint(dir, nil)
	if err != nil {
		return nil, Progress{}, err
	}
	load, err := methods.Lookup(info.Method)
	if err != nil {
		return nil, Progress{}, fmt.Errorf("%s: %w", path, err)
	}
	m, err := load(info.Config, info.Encoder)
	if err != nil {
		return nil, Progress{}, fmt.Errorf("%s: %w", path, err)
	}
	opts := m.Optimizers()
	prefixes := make([]string, len(opts))
	for i, o := range opts {
		prefixes[i] = o.Prefix
	}
	if err := nn.StateOf(m, "").Load(tensors, prefixes...); err != nil {
		return nil, Progress{}, fmt.Errorf("%s: %w", path, err)
	}
	for _, o := range opts {
		st := map[string]*tensor.Tensor{}
		for k, v := range tensors {
			if strings.HasPrefix(k, o.Prefix) && !owned(k, o.Prefix, prefixes) {
				st[k[len(o.Prefix):]] = v
			}
		}
		if err := o.Opt.LoadState(st); err != nil {
			return nil, Progress{}, fmt.Errorf("%s: optimiser state %s: %w", path, o.Prefix, err)
		}
	}
	return m, info.Progress, nil
}

// owned reports whether key belongs to a longer prefix than p.
func owned(key, p string, prefixes []string) bool {
	for _, q := range prefixes {
		if len(q) > len(p) && strings.HasPrefix(key, q) {
			return true
		}
	}
	return false
}

// LoadEncoder reads only the encoder of a run directory, whatever method
// trained it: its spec from the metadata, its weights from the tensors
// named "encoder.*", of which alone the checksums must match (a damaged
// optimiser or critic tensor does not matter here; a damaged encoder
// tensor falls back to the previous checkpoint, as Load does). The
// encoder is in training mode; Embed switches it.
func LoadEncoder(dir string) (encoder.Encoder, Info, error) {
	// Only the encoder's tensors must be whole: a damaged optimiser or
	// critic tensor does not stop embedding or evaluation.
	tensors, info, path, err := readCheckpoint(dir, func(name string) bool { return strings.HasPrefix(name, encoderPrefix) })
	if err != nil {
		return nil, info, err
	}
	enc, err := encoder.New(info.Encoder, tensor.NewRNG(0))
	if err != nil {
		return nil, info, fmt.Errorf("%s: %w", path, err)
	}
	sub := maps.Collect(func(yield func(string, *tensor.Tensor) bool) {
		for k, v := range tensors {
			if strings.HasPrefix(k, encoderPrefix) && !yield(k, v) {
				return
			}
		}
	})
	if err := nn.StateOf(enc, "encoder").Load(sub); err != nil {
		return nil, info, fmt.Errorf("%s: %w", path, err)
	}
	return enc, info, nil
}
