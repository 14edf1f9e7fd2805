package baselines

import (
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

var randomSpec = Spec{
	Name: "random",
	Doc:  "an untrained encoder, initialised from the seed (the lower reference): its steps change nothing",
	New: func(o Options, enc encoder.Spec) (train.Method, error) {
		e, err := encoder.New(enc, tensor.NewRNG(o.Seed))
		if err != nil {
			return nil, err
		}
		m := &Random{base: base{Enc: e}}
		m.init(m, "random", o)
		return m, nil
	},
}

// Random is an encoder left as initialised: a run of it is the baseline of
// a randomly initialised encoder, evaluated like any other run. Its steps
// neither read the images nor change the weights (BatchNorm's running
// statistics stay at their initial values, as `dim eval --random` has
// them).
type Random struct{ base }

// Step implements train.Method: nothing to learn.
func (m *Random) Step(*train.Batch) ([]train.Loss, error) { return m.losses, nil }

// Evaluate implements train.Evaluator: what Step reports, nothing.
func (m *Random) Evaluate(*train.Batch) ([]train.Loss, error) { return m.losses, nil }
