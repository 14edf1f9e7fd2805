package dim

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Files of a run directory.
const (
	// WeightsFile holds the model's parameters and buffers (PyTorch-style
	// names), the optimiser state under "optim.", and the config and
	// progress as metadata: one file, written atomically, so a checkpoint is
	// always consistent.
	WeightsFile = "model.safetensors"
	// ConfigFile repeats the config and progress as JSON for people and tools.
	ConfigFile = "config.json"
	// MetricsFile holds one JSON object per line: losses, timings, accuracies.
	MetricsFile = "metrics.jsonl"
)

// Progress is how far a run has got.
type Progress struct {
	Epoch  int    `json:"epoch"`  // completed epochs
	Sample int    `json:"sample"` // images consumed in the current epoch
	Step   int    `json:"step"`   // total optimiser steps
	Data   string `json:"data"`   // the data spec trained on
}

// runInfo is the JSON stored in config.json and in the weights' metadata.
type runInfo struct {
	Config   Config   `json:"config"`
	Progress Progress `json:"progress"`
}

// SaveCheckpoint writes the model, the optimisers' state (if tr is not
// nil) and the progress into dir atomically.
func SaveCheckpoint(dir string, m *Model, tr *Trainer, p Progress) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	tensors := m.State().Tensors()
	if tr != nil {
		maps.Copy(tensors, tr.OptimizerState())
	}
	info := runInfo{Config: m.Config, Progress: p}
	js, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode run info: %w", err)
	}
	path := filepath.Join(dir, WeightsFile)
	if err := checkpoint.Save(path, tensors, map[string]string{"deepinfomax": string(js)}); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := checkpoint.WriteJSONAtomic(filepath.Join(dir, ConfigFile), info); err != nil {
		return fmt.Errorf("save %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	return nil
}

// LoadCheckpoint reads a run directory written by SaveCheckpoint and
// rebuilds the model. It returns the remaining tensors (the optimisers'
// state) for Trainer.LoadOptimizerState.
func LoadCheckpoint(dir string) (*Model, Progress, map[string]*tensor.Tensor, error) {
	path := filepath.Join(dir, WeightsFile)
	tensors, meta, err := checkpoint.Load(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Progress{}, nil, fmt.Errorf("%s: no checkpoint (is %s a run directory made by dim train?)", path, dir)
		}
		return nil, Progress{}, nil, err
	}
	js, ok := meta["deepinfomax"]
	if !ok {
		return nil, Progress{}, nil, fmt.Errorf("%s: no deepinfomax metadata (not written by dim train)", path)
	}
	var info runInfo
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		return nil, Progress{}, nil, fmt.Errorf("%s: bad metadata: %w", path, err)
	}
	m, err := New(info.Config)
	if err != nil {
		return nil, Progress{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.State().Load(tensors, optimPrefix, priorOptimPrefix); err != nil {
		return nil, Progress{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	opt := map[string]*tensor.Tensor{}
	for k, v := range tensors {
		if strings.HasPrefix(k, optimPrefix) || strings.HasPrefix(k, priorOptimPrefix) {
			opt[k] = v
		}
	}
	return m, info.Progress, opt, nil
}
