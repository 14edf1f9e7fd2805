package dim

import (
	"fmt"
	"slices"
	"sync"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// Term is one weighted part of the DIM objective (paper section 3): its
// networks are fields of the value New returns, found by walking it as a
// module tree and named in checkpoints by their field names (so
// `LocalMap *MINet` is saved as "local_map.*").
type Term interface {
	// Loss returns the term's unweighted loss for the step (a scalar on
	// s.Tape). Errors may also be left on the tape.
	Loss(s *Step) (*autograd.Var, error)
}

// Adversarial is implemented by terms with a critic of their own (prior
// matching): after the objective's forward pass and before the encoder's
// update, CriticLoss computes the critic's loss on this step's outputs
// (reported under the term spec's Critic name); after the encoder's
// update, Update trains the critic. The critic's parameters stay out of the
// encoder's optimiser (train.SelfOptimizing); CriticOptimizer's state is
// checkpointed under "optim_<term name>.".
type Adversarial interface {
	CriticLoss(s *Step) (float32, error)
	Update() error
	CriticOptimizer() optim.Optimizer
}

// Metered is implemented by terms that report values beside their loss:
// after Loss, Metrics fills out (one value per name in the spec's Metrics).
type Metered interface {
	Metrics(out []float32)
}

// Step is what a term sees of one training step.
type Step struct {
	Tape   *autograd.Tape
	Batch  *train.Batch
	X      *autograd.Var    // the images [N,C,H,W]
	F      encoder.Features // the encoder's taps on X
	Config Config
}

// TermSpec registers a term: the trainer, checkpoints, flags, the
// objective's validation and the metrics all pick it up from here.
type TermSpec struct {
	// Name names the term's loss in metrics.jsonl ("local").
	Name string
	// Weight names the term's weight: its flag (--beta) and its key in the
	// config's JSON. The term is part of the objective when its weight is
	// positive.
	Weight string
	// Usage is the weight flag's help text.
	Usage string
	// MI says the term estimates mutual information: the objective needs
	// at least one such term.
	MI bool
	// Critic names the loss of an Adversarial term's critic in metrics
	// ("discriminator"); empty for other terms.
	Critic string
	// Metrics names other values a Metered term reports each step (an
	// accuracy), in metrics.jsonl beside the losses.
	Metrics []string
	// New builds the term's networks for the model's encoder and config,
	// drawing their initial weights from rng.
	New func(enc encoder.Encoder, cfg Config, rng *tensor.RNG) (Term, error)
}

var (
	termMu sync.RWMutex
	// terms are the registered terms in registration order: the order
	// their networks are built (and so initialised from the seed), their
	// losses computed and reported.
	terms = []TermSpec{localSpec, globalSpec, priorSpec, coordSpec}
)

// RegisterTerm adds a term to the objective's registry. Its names must be
// new.
func RegisterTerm(s TermSpec) error {
	termMu.Lock()
	defer termMu.Unlock()
	if s.Name == "" || s.Weight == "" || s.New == nil {
		return fmt.Errorf("dim: term spec needs a name, a weight name and New")
	}
	// The weight's name must be new among the config's keys and the other
	// weights (they share the config's JSON object); the loss and metric
	// names among the metrics line's fields.
	weights, fields := configKeys(), map[string]bool{"loss": true, "step": true, "epoch": true, "ms_per_step": true, "time": true, "event": true}
	for _, t := range terms {
		weights[t.Weight] = true
		for _, n := range append([]string{t.Name, t.Critic}, t.Metrics...) {
			fields[n] = true
		}
	}
	if weights[s.Weight] {
		return fmt.Errorf("dim: term %q: weight name %q is taken by a config key or another term", s.Name, s.Weight)
	}
	for _, n := range append([]string{s.Name, s.Critic}, s.Metrics...) {
		if n != "" && fields[n] {
			return fmt.Errorf("dim: term %q: %q is taken by a metrics field or another term's loss", s.Name, n)
		}
		fields[n] = true
	}
	terms = append(terms, s)
	return nil
}

// Terms returns the registered terms in order.
func Terms() []TermSpec {
	termMu.RLock()
	defer termMu.RUnlock()
	return slices.Clone(terms)
}

func termByWeight(w string) (TermSpec, bool) {
	for _, t := range Terms() {
		if t.Weight == w {
			return t, true
		}
	}
	return TermSpec{}, false
}
