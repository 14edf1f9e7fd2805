package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/spf13/pflag"
)

// measureOptions are dim eval's measures that need the encoder's input
// images besides its features: MINE of I(X;Y), MS-SSIM of a decoder
// trained on Y, and the semi-supervised comparison of a fine-tuned and a
// frozen encoder (paper, Table 3 and section 4.2).
type measureOptions struct {
	mine   bool
	mineC  eval.MINEConfig
	msssim bool
	decC   eval.DecoderConfig
	semiC  eval.SemiConfig // LabelsPerClass 0: off
}

// register adds the measures' flags.
func (m *measureOptions) register(f *pflag.FlagSet) {
	f.BoolVar(&m.mine, "mine", false, "also estimate I(X;Y) between the images and Y with MINE (a conv critic trained with the Donsker-Varadhan bound)")
	f.IntVar(&m.mineC.Steps, "mine-steps", 2000, "training steps of the MINE critic (batches of 256 pairs)")
	f.BoolVar(&m.msssim, "msssim", false, "also train the paper's decoder with L2 loss on frozen Y and report the MS-SSIM of its test reconstructions")
	f.IntVar(&m.decC.Steps, "msssim-steps", 2000, "training steps of the MS-SSIM decoder (batches of 64)")
	f.IntVar(&m.semiC.LabelsPerClass, "labels-per-class", 0, "if > 0, also train the paper's MLP head on Y with this many labelled training images per class, with the encoder frozen and fine-tuned (semi-supervised)")
	f.IntVar(&m.semiC.Steps, "semi-steps", 1000, "training steps of each semi-supervised run (batches of 64)")
}

// any reports whether a measure is asked for.
func (m *measureOptions) any() bool { return m.mine || m.msssim || m.semiC.LabelsPerClass > 0 }

// ranges are the ranges of the measures' flags, checked whether or not
// the measure is asked for.
func (m *measureOptions) ranges() []flagRange {
	return []flagRange{
		atLeast("mine-steps", 1), atLeast("msssim-steps", 1), atLeast("semi-steps", 1),
		between("labels-per-class", 0, math.MaxInt, "0 (off) or more"),
	}
}

// embedOptions extends the embedding of the classifiers' taps with Y and
// the images when a measure needs them.
func (m *measureOptions) embedOptions(taps []string) encoder.EmbedOptions {
	o := encoder.EmbedOptions{Taps: taps}
	if m.any() {
		o.Images = true
		if !slices.Contains(taps, encoder.TapY) {
			o.Taps = append(slices.Clone(taps), encoder.TapY)
		}
	}
	return o
}

// add computes the measures asked for with the encoder enc on the
// embedded train and test splits (Y and images) and adds their rows to
// rep; seed seeds them all.
func (m *measureOptions) add(rep *eval.Report, enc encoder.Encoder, tr, te *encoder.Embeddings, classes int, seed uint64) error {
	if !m.any() {
		return nil
	}
	if tr.Images == nil || te.Images == nil {
		return errors.New("measures: the embeddings hold no images")
	}
	ytr, err := tr.Layer(encoder.TapY)
	if err != nil {
		return err
	}
	yte, err := te.Layer(encoder.TapY)
	if err != nil {
		return err
	}
	if m.mine {
		fmt.Fprintln(os.Stderr, "mine I(X;Y)...")
		c := m.mineC
		c.Seed = seed
		bar := stepProgress("mine", c.Steps, &c.Progress)
		v, err := eval.MINE(tr.Images, ytr, te.Images, yte, c)
		bar.finish()
		if err != nil {
			return err
		}
		rep.Add(mineRow(v, c))
	}
	if m.msssim {
		fmt.Fprintln(os.Stderr, "ms-ssim decoder on y...")
		c := m.decC
		c.Seed = seed
		bar := stepProgress("ms-ssim decoder", c.Steps, &c.Progress)
		r, err := eval.DecoderMSSSIM(ytr, tr.Images, yte, te.Images, c)
		bar.finish()
		if err != nil {
			return err
		}
		rep.Add(msssimRow(r, c))
	}
	if m.semiC.LabelsPerClass > 0 {
		fmt.Fprintf(os.Stderr, "semi-supervised, %d labels per class...\n", m.semiC.LabelsPerClass)
		c := m.semiC
		c.Seed = seed
		bar := stepProgress("semi-supervised", 2*c.Steps, &c.Progress)
		r, err := eval.SemiSupervised(enc, tr.Images, tr.Labels, te.Images, te.Labels, classes, c)
		bar.finish()
		if err != nil {
			return err
		}
		rep.Add(r.Rows(c)...)
	}
	return nil
}

// mineRow is the result row of the MINE estimate of I(X;Y), in nats.
func mineRow(nats float64, c eval.MINEConfig) eval.Result {
	return eval.Result{Layer: encoder.TapY, Kind: eval.KindMINE, Metric: eval.MetricNats, Value: nats,
		Settings: map[string]any{"steps": c.Steps}}
}

// msssimRow is the result row of the MS-SSIM of the decoder on Y.
func msssimRow(r eval.DecoderResult, c eval.DecoderConfig) eval.Result {
	return eval.Result{Layer: encoder.TapY, Kind: eval.KindMSSSIM, Metric: eval.MetricMSSSIM, Value: r.MSSSIM,
		Settings: map[string]any{"steps": c.Steps, "scales": r.Scales}}
}

// stepProgress starts a progress bar of steps training steps on stderr,
// points *hook at it and returns it, to be finished when the training
// returns.
func stepProgress(desc string, steps int, hook *func(done int)) *countProgress {
	bar := newCountProgress(desc, steps)
	*hook = bar.update
	return bar
}
