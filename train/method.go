// Package train runs any representation-learning method: DIM now, the
// paper's baselines later. A Method owns its networks (an encoder among
// them), its optimisers and its step; this package owns everything around
// the step that every method shares: the loop with progress and
// metrics.jsonl, checkpoints that record the method, its config, the
// encoder's spec and the progress, --resume, and interruption by signals.
//
// Data flows one way: data -> Method.Step (encoder, nn, mi, optim) ->
// checkpoint (Save) -> LoadEncoder -> eval.
package train

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/internal/registry"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Common are the settings every method has. Method configs embed it, so
// their JSON has "lr", "batch" and "seed" at the top level.
type Common struct {
	LR    float64 `json:"lr"`    // learning rate of the main optimiser
	Batch int     `json:"batch"` // images per step
	Seed  uint64  `json:"seed"`  // initialisation, data order, augmentation
}

// MaxBatch is the largest batch a method takes (a larger one would only
// exhaust memory).
const MaxBatch = 1 << 16

// Validate reports the first invalid setting.
func (c Common) Validate() error {
	switch {
	case !(c.LR > 0) || math.IsInf(c.LR, 1):
		return fmt.Errorf("learning rate must be positive and finite, got %g", c.LR)
	case c.Batch < 1 || c.Batch > MaxBatch:
		return fmt.Errorf("batch must be 1 to %d, got %d", MaxBatch, c.Batch)
	}
	return nil
}

// Batch is one step's input.
type Batch struct {
	X      *tensor.Tensor // images [N,C,H,W], normalised and augmented
	Labels []int          // N labels (-1 for unlabelled images)
	Index  []int          // N data-set indices
	Step   int            // optimiser steps done before this one
}

// Loss is a named scalar a step reports (for metrics.jsonl and progress).
type Loss struct {
	Name  string
	Value float32
}

// Optimizer is an optimiser of a method with the prefix its state has in a
// checkpoint (e.g. "optim.", "optim_prior.").
type Optimizer struct {
	Prefix string
	Opt    optim.Optimizer
}

// Method is a way to learn an encoder. Its parameters and buffers are
// found by walking it as a module tree (nn.StateOf), so a checkpoint holds
// them under the names of its fields; its encoder's must be under
// "encoder." so that LoadEncoder finds them.
type Method interface {
	// Name is the method's registry name ("dim").
	Name() string
	// Config returns the method's settings, saved as JSON in checkpoints
	// and given back to the registered Loader.
	Config() any
	// Common returns the settings the loop needs (batch size, seed).
	Common() Common
	// Encoder returns the encoder being learnt.
	Encoder() encoder.Encoder
	// Step does one optimisation step on b. The first loss is the total
	// ("loss"); the slice is owned by the method and reused, so that a warm
	// step allocates nothing; its names are the same every step. A
	// non-finite loss is an error. With an error the losses may be nil
	// (a batch the method cannot take is refused before any is computed).
	Step(b *Batch) ([]Loss, error)
	// Optimizers returns the method's optimisers with checkpoint prefixes.
	Optimizers() []Optimizer
}

// Evaluator is implemented by a method that can compute the losses of its
// current weights on a batch without training: what Step would report for
// b before its update (the same names in the same order; a loss only an
// update computes, such as a critic's, is 0), from one forward pass that
// records no gradient and leaves the parameters, buffers (BatchNorm's
// running statistics), optimiser state and random streams as they were.
// A non-finite loss is returned, not refused: the caller judges it. Run
// calls it once, at the end of a run, to judge the weights of the last
// update, whose loss no step computes (see Options.DivergeFactor); a
// method that does not implement it is not judged there.
type Evaluator interface {
	Evaluate(b *Batch) ([]Loss, error)
}

// SelfOptimizing is implemented by parts of a method that train their own
// parameters with their own optimiser (an adversary's discriminator):
// TrainableParams leaves them to it.
type SelfOptimizing interface {
	Optimizer() optim.Optimizer
}

// TrainableParams returns the parameters of the module tree under root that
// its main optimiser trains: all of them, in tree order, except those that
// a SelfOptimizing node's own optimiser trains (the walk does not look
// inside such a node).
func TrainableParams(root any) []*autograd.Var {
	var own []*autograd.Var
	nn.Walk(root, func(_ string, node any) bool {
		if s, ok := node.(SelfOptimizing); ok {
			own = append(own, s.Optimizer().Params()...)
			return false
		}
		return true
	})
	var out []*autograd.Var
	for _, p := range nn.StateOf(root, "").Params {
		if !slices.Contains(own, p.Var) {
			out = append(out, p.Var)
		}
	}
	return out
}

// Loader rebuilds a method from its saved config and encoder spec (weights
// are loaded afterwards).
type Loader func(config json.RawMessage, enc encoder.Spec) (Method, error)

var methods = registry.New[Loader]("method")

// Register makes a method loadable from checkpoints under name.
// Registering a name twice is an error.
func Register(name string, load Loader) error { return methods.Register(name, load) }

// Methods returns the registered method names, sorted.
func Methods() []string { return methods.Names() }
