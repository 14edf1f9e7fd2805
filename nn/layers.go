package nn

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Linear is a fully connected layer: y = x W^T + b, W [out,in].
type Linear struct {
	W, B *autograd.Var // B is nil without bias
}

// NewLinear returns a Linear layer initialised as PyTorch's nn.Linear:
// W ~ U(-1/sqrt(in), 1/sqrt(in)) (Kaiming uniform, a=sqrt(5)), same for b
// (zero when in is 0, as PyTorch). Like make, it panics when in or out is
// negative, and it panics when rng is nil; the message names NewLinear.
func NewLinear(in, out int, bias bool, rng *tensor.RNG) *Linear {
	checkLayer("NewLinear", rng, size{"in", in}, size{"out", out})
	w, b := weightBias(tensor.New(out, in), in, out, bias, rng)
	return &Linear{W: w, B: b}
}

// size is a named size argument of a layer constructor.
type size struct {
	name string
	v    int
}

// checkLayer panics, naming the constructor fn, when one of the sizes is
// negative or rng is nil.
func checkLayer(fn string, rng *tensor.RNG, sizes ...size) {
	for _, s := range sizes {
		if s.v < 0 {
			panic(fmt.Sprintf("nn.%s: %s = %d, want >= 0", fn, s.name, s.v))
		}
	}
	if rng == nil {
		panic(fmt.Sprintf("nn.%s: nil rng", fn))
	}
}

// weightBias initialises w and an optional bias of out values as PyTorch
// does for Linear and convolution layers: Kaiming uniform with a = sqrt(5)
// for w, U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for the bias, or zeros when
// fanIn is 0 (w is then empty).
func weightBias(w *tensor.Tensor, fanIn, out int, bias bool, rng *tensor.RNG) (wv, bv *autograd.Var) {
	rng.KaimingUniform(w, fanIn, math.Sqrt(5))
	if bias {
		b := tensor.New(out)
		bound := float32(0)
		if fanIn > 0 {
			bound = float32(1 / math.Sqrt(float64(fanIn)))
		}
		rng.Uniform(b, -bound, bound)
		bv = autograd.NewParam(b)
	}
	return autograd.NewParam(w), bv
}

// collectWeightBias adds "weight" and, when present, "bias".
func collectWeightBias(prefix string, s *State, w, b *autograd.Var) {
	s.AddParam(prefix+"weight", w)
	if b != nil {
		s.AddParam(prefix+"bias", b)
	}
}

// Forward implements Module. x is [N,in]; higher-rank inputs are flattened
// to [N, rest] first.
func (l *Linear) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if x.Value.Rank() > 2 {
		x = tp.Flatten(x)
	}
	return tp.Linear(x, l.W, l.B)
}

// Collect implements Collector.
func (l *Linear) Collect(prefix string, s *State) { collectWeightBias(prefix, s, l.W, l.B) }

// Conv2d is a 2-D convolution with a square kernel.
type Conv2d struct {
	W, B        *autograd.Var // W [out,in,k,k]; B [out] or nil
	Stride, Pad int
}

// NewConv2d returns a convolution initialised as PyTorch's nn.Conv2d. It
// panics when in, out or kernel is negative or rng is nil; the message
// names NewConv2d. Stride and padding are checked by Forward.
func NewConv2d(in, out, kernel, stride, pad int, bias bool, rng *tensor.RNG) *Conv2d {
	checkLayer("NewConv2d", rng, size{"in", in}, size{"out", out}, size{"kernel", kernel})
	w, b := weightBias(tensor.New(out, in, kernel, kernel), in*kernel*kernel, out, bias, rng)
	return &Conv2d{W: w, B: b, Stride: stride, Pad: pad}
}

// Forward implements Module.
func (c *Conv2d) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Conv2d(x, c.W, c.B, c.Stride, c.Pad)
}

// Collect implements Collector.
func (c *Conv2d) Collect(prefix string, s *State) { collectWeightBias(prefix, s, c.W, c.B) }

// ConvTranspose2d is a transposed 2-D convolution with a square kernel.
type ConvTranspose2d struct {
	W, B                *autograd.Var // W [in,out,k,k]; B [out] or nil
	Stride, Pad, OutPad int
}

// NewConvTranspose2d returns a transposed convolution initialised as
// PyTorch's nn.ConvTranspose2d (fan-in computed from W's second axis). It
// panics when in, out or kernel is negative or rng is nil; the message
// names NewConvTranspose2d. Stride and paddings are checked by Forward.
func NewConvTranspose2d(in, out, kernel, stride, pad, outPad int, bias bool, rng *tensor.RNG) *ConvTranspose2d {
	checkLayer("NewConvTranspose2d", rng, size{"in", in}, size{"out", out}, size{"kernel", kernel})
	w, b := weightBias(tensor.New(in, out, kernel, kernel), out*kernel*kernel, out, bias, rng)
	return &ConvTranspose2d{W: w, B: b, Stride: stride, Pad: pad, OutPad: outPad}
}

// Forward implements Module.
func (c *ConvTranspose2d) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.ConvTranspose2d(x, c.W, c.B, c.Stride, c.Pad, c.OutPad)
}

// Collect implements Collector.
func (c *ConvTranspose2d) Collect(prefix string, s *State) { collectWeightBias(prefix, s, c.W, c.B) }

// BatchNorm normalises over the batch per channel (axis 1), for [N,C]
// (BatchNorm1d) and [N,C,H,W] (BatchNorm2d) inputs alike.
type BatchNorm struct {
	Gamma, Beta     *autograd.Var // nil when not affine
	RunMean, RunVar *tensor.Tensor
	Momentum, Eps   float32
	Training        bool
}

// NewBatchNorm returns a BatchNorm over c channels in training mode with
// PyTorch's defaults: gamma 1, beta 0, momentum 0.1, eps 1e-5. Like make,
// it panics when c is negative; the message names NewBatchNorm.
func NewBatchNorm(c int, affine bool) *BatchNorm {
	if c < 0 {
		panic(fmt.Sprintf("nn.NewBatchNorm: c = %d, want >= 0", c))
	}
	b := &BatchNorm{RunMean: tensor.New(c), RunVar: tensor.New(c), Momentum: 0.1, Eps: 1e-5, Training: true}
	b.RunVar.Fill(1)
	if affine {
		g := tensor.New(c)
		g.Fill(1)
		b.Gamma, b.Beta = autograd.NewParam(g), autograd.NewParam(tensor.New(c))
	}
	return b
}

// Forward implements Module.
func (b *BatchNorm) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.BatchNorm(x, b.Gamma, b.Beta, b.RunMean, b.RunVar, b.Training, b.Momentum, b.Eps)
}

// ForwardReLU returns ReLU(Forward(x)) as one op (autograd.BatchNormReLU):
// the same values, one pass fewer.
func (b *BatchNorm) ForwardReLU(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.BatchNormReLU(x, b.Gamma, b.Beta, b.RunMean, b.RunVar, b.Training, b.Momentum, b.Eps)
}

// Collect implements Collector. The names match PyTorch's (weight, bias,
// running_mean, running_var).
func (b *BatchNorm) Collect(prefix string, s *State) {
	if b.Gamma != nil {
		s.AddParam(prefix+"weight", b.Gamma)
		s.AddParam(prefix+"bias", b.Beta)
	}
	s.AddBuffer(prefix+"running_mean", b.RunMean)
	s.AddBuffer(prefix+"running_var", b.RunVar)
}

// SetTraining implements Switcher.
func (b *BatchNorm) SetTraining(on bool) { b.Training = on }

// IsTraining implements ModeReporter.
func (b *BatchNorm) IsTraining() bool { return b.Training }

// LayerNorm normalises over the last axis with a learnt scale and shift.
type LayerNorm struct {
	Gamma, Beta *autograd.Var
	Eps         float32
}

// NewLayerNorm returns a LayerNorm over d features (gamma 1, beta 0, eps
// 1e-5). Like make, it panics when d is negative; the message names
// NewLayerNorm.
func NewLayerNorm(d int) *LayerNorm {
	if d < 0 {
		panic(fmt.Sprintf("nn.NewLayerNorm: d = %d, want >= 0", d))
	}
	g := tensor.New(d)
	g.Fill(1)
	return &LayerNorm{Gamma: autograd.NewParam(g), Beta: autograd.NewParam(tensor.New(d)), Eps: 1e-5}
}

// Forward implements Module.
func (l *LayerNorm) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.LayerNorm(x, l.Gamma, l.Beta, l.Eps)
}

// ForwardAdd is Forward of x+r, a residual connection's sum, as one op
// (autograd.Tape.AddLayerNorm): the same values and gradients as
// Forward(tp, tp.Add(x, r)) with less memory traffic. x and r must have the
// same shape.
func (l *LayerNorm) ForwardAdd(tp *autograd.Tape, x, r *autograd.Var) *autograd.Var {
	return tp.AddLayerNorm(x, r, l.Gamma, l.Beta, l.Eps)
}

// Collect implements Collector.
func (l *LayerNorm) Collect(prefix string, s *State) {
	s.AddParam(prefix+"weight", l.Gamma)
	s.AddParam(prefix+"bias", l.Beta)
}

// Dropout zeroes activations with probability P while training.
type Dropout struct {
	P        float32
	Training bool
	RNG      *tensor.RNG
}

// NewDropout returns a Dropout layer in training mode drawing masks from rng.
func NewDropout(p float32, rng *tensor.RNG) *Dropout {
	return &Dropout{P: p, Training: true, RNG: rng}
}

// Forward implements Module.
func (d *Dropout) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Dropout(x, d.P, d.Training, d.RNG)
}

// Collect implements Collector (no parameters).
func (d *Dropout) Collect(string, *State) {}

// SetTraining implements Switcher.
func (d *Dropout) SetTraining(on bool) { d.Training = on }

// IsTraining implements ModeReporter.
func (d *Dropout) IsTraining() bool { return d.Training }

// MaxPool2d is max pooling with a square window.
type MaxPool2d struct {
	stateless
	Kernel, Stride, Pad int
}

// Forward implements Module.
func (p *MaxPool2d) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.MaxPool2d(x, p.Kernel, p.Stride, p.Pad)
}

// AvgPool2d is average pooling with a square window.
type AvgPool2d struct {
	stateless
	Kernel, Stride, Pad int
}

// Forward implements Module.
func (p *AvgPool2d) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.AvgPool2d(x, p.Kernel, p.Stride, p.Pad)
}

// Func wraps a parameter-free function of one Var (an activation, a
// reshape) as a Module.
type Func struct {
	stateless
	F func(tp *autograd.Tape, x *autograd.Var) *autograd.Var
}

// Forward implements Module.
func (f Func) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var { return f.F(tp, x) }

// ReLU is the rectifier as a Module.
var ReLU = Func{F: (*autograd.Tape).ReLU}

// Tanh is tanh as a Module.
var Tanh = Func{F: (*autograd.Tape).Tanh}

// Sigmoid is the logistic function as a Module.
var Sigmoid = Func{F: (*autograd.Tape).Sigmoid}

// Flatten reshapes [N, ...] to [N, rest] as a Module.
var Flatten = Func{F: (*autograd.Tape).Flatten}

// LeakyReLU returns a leaky rectifier Module with the given slope.
func LeakyReLU(slope float32) Func {
	return Func{F: func(tp *autograd.Tape, x *autograd.Var) *autograd.Var { return tp.LeakyReLU(x, slope) }}
}
