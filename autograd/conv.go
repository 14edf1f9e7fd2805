package autograd

import (
	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Convolutions run as one matrix product over the whole batch. With K =
// Cin*kH*kW, P = Hout*Wout and the batch unfolded by kernels.Im2col into
// cols [K, N*P]:
//
//	forward   out[Cout, N*P] = W[Cout, K] x cols          (then moved to NCHW, bias added)
//	backward  dW[Cout, K]   += dOut[Cout, N*P] x cols^T
//	          dX             = Col2im(W^T x dOut)
//	          db[Cout]      += sum of dOut over N, P
//
// A transposed convolution is the input gradient of a convolution, so its
// forward pass is the second backward line and its backward pass is the
// forward and weight-gradient lines: the two ops share the same pieces.
//
// Conv2d runs kernels.Conv2d and kernels.Conv2dBackward, which compute the
// same products a few images at a time, unfolded in cache, instead of over
// the batch's column matrix (decision #38): it keeps no buffer for its
// backward pass. ConvTranspose2d keeps the whole-batch form below: its
// forward pass keeps its operands on the node and the backward pass
// reuses them as scratch; n.flag records that the saved operand was
// overwritten, so that a second backward pass through the same node
// (without Reset) rebuilds it first.

// convArgs validates the common arguments of the convolutions and returns
// an error message, or "" when they are valid.
func convArgs(xs, ws []int, stride, pad int) string {
	switch {
	case len(xs) != 4:
		return "want a 4-D input [N,C,H,W]"
	case len(ws) != 4:
		return "want a 4-D weight"
	case stride < 1:
		return "stride must be at least 1"
	case pad < 0:
		return "padding must not be negative"
	}
	for _, d := range xs {
		if d < 1 {
			return "input sizes must be positive"
		}
	}
	for _, d := range ws {
		if d < 1 {
			return "weight sizes must be positive"
		}
	}
	return ""
}

// Conv2d returns the 2-D convolution (cross-correlation, as in PyTorch) of
// x [N,Cin,H,W] with the filters w [Cout,Cin,kH,kW], plus the bias b [Cout]
// when b is not nil: an output [N,Cout,Hout,Wout] with
// Hout = (H+2*pad-kH)/stride+1 and likewise Wout. Where
// kernels.WinogradPays accepts the geometry (a stride-2 window of 3 to 6,
// or a stride-1 window of 2 or 3, over 16 or more channels, with enough
// output tiles in the batch, on CPUs with AVX-512) the output is computed
// by Winograd's algorithm, equal to the direct convolution's to float
// rounding (decision #52). The gradients are the direct convolution's,
// except the input gradient where kernels.WinogradInputGradPays accepts
// the geometry (basic28x28's second convolution at a batch of 32 or more,
// alex64x64's 3 x 3 ones; decision #58) and the filter gradient where
// kernels.WinogradFilterGradPays does (layers of 2^31 or more
// floating-point operations: basic64x64's second and third, alex64x64's;
// decision #59), which are Winograd's too.
func (tp *Tape) Conv2d(x, w, b *Var, stride, pad int) *Var {
	out := tp.conv2d("conv2d", x, w, b, stride, pad, nil)
	if out == nil {
		return tp.newVar(1)
	}
	if n := tp.record(conv2dBackward, out, x, w, b); n != nil { // a nil bias is skipped
		n.ints[0], n.ints[1] = stride, pad
	}
	return out
}

// conv2d checks Conv2d's operands (failing the tape under op's name and
// returning nil when they are wrong) and computes the convolution, with
// epi applied when it is not nil.
func (tp *Tape) conv2d(op string, x, w, b *Var, stride, pad int, epi *kernels.ConvEpilogue) *Var {
	if tp.failed() || tp.bad(op, "x", x) || tp.bad(op, "w", w) {
		return nil
	}
	xs, ws := x.Value.Shape, w.Value.Shape
	if msg := convArgs(xs, ws, stride, pad); msg != "" {
		tp.fail("%s: input %v, weight %v, stride %d, pad %d: %s", op, xs, ws, stride, pad, msg)
		return nil
	}
	if xs[1] != ws[1] {
		tp.fail("%s: input %v has %d channels, weight %v expects %d", op, xs, xs[1], ws, ws[1])
		return nil
	}
	cout := ws[0]
	if b != nil && (len(b.Value.Shape) != 1 || b.Value.Shape[0] != cout) {
		tp.fail("%s: bias %v for weight %v: want [%d]", op, b.Value.Shape, ws, cout)
		return nil
	}
	g := kernels.NewConvGeom(xs[0], xs[1], xs[2], xs[3], ws[2], ws[3], stride, pad)
	if g.OH < 1 || g.OW < 1 {
		tp.fail("%s: kernel %dx%d larger than the padded input %v (pad %d)", op, ws[2], ws[3], xs, pad)
		return nil
	}
	out := tp.newVar(g.N, cout, g.OH, g.OW)
	var bias []float32
	if b != nil {
		bias = b.Value.Data
	}
	// Conv2dBNReLU's one-pass inference (an epilogue) finds its transformed
	// filters cached across batches; a training step changes them at every
	// step, where only convolutions with enough tiles gain (decision #52).
	// The choice does not depend on recording, so that Model.Evaluate,
	// which does not record, computes what a training step computes.
	if epi != nil && kernels.CanWinograd(g, cout) || kernels.WinogradPays(g, cout) {
		kernels.Conv2dWinograd(g, cout, w.Value.Data, bias, x.Value.Data, out.Value.Data, epi)
		return out
	}
	kernels.Conv2d(g, cout, w.Value.Data, bias, x.Value.Data, out.Value.Data, epi)
	return out
}

// Conv2dBNReLU returns ReLU(BatchNorm(Conv2d(x, w, b, stride, pad))) with
// the BatchNorm in evaluation mode: running mean and variance (runMean,
// runVar [Cout]), eps, and gamma and beta [Cout] when not nil, as
// BatchNorm's. It is the convolutional block of the encoders at inference.
// When no gradient is recorded it runs as one pass, the normalisation and
// the ReLU applied as each group of outputs leaves the product
// (kernels.ConvEpilogue): by Winograd's algorithm where kernels.CanWinograd
// accepts the geometry (stride-2 windows of 3 to 6 or stride-1 windows of 2
// or 3, over 16 or more channels, on CPUs with AVX-512), whose values differ from the three ops'
// at float rounding (decision #51), and otherwise with the values of the
// three ops bit for bit. When a gradient is recorded it records the three
// ops.
func (tp *Tape) Conv2dBNReLU(x, w, b, gamma, beta *Var, runMean, runVar *tensor.Tensor, eps float32, stride, pad int) *Var {
	if tp.failed() || tp.bad("conv2dbnrelu", "x", x) || tp.bad("conv2dbnrelu", "w", w) {
		return tp.newVar(1)
	}
	if !tp.noGrad && (x.requiresGrad || w.requiresGrad || b != nil && b.requiresGrad ||
		gamma != nil && gamma.requiresGrad || beta != nil && beta.requiresGrad) {
		return tp.ReLU(tp.BatchNorm(tp.Conv2d(x, w, b, stride, pad), gamma, beta, runMean, runVar, false, 0, eps))
	}
	ws := w.Value.Shape
	if len(ws) != 4 {
		return tp.fail("conv2dbnrelu: weight %v: want a 4-D weight", ws)
	}
	cout := ws[0]
	if msg := bnArgs(cout, gamma, beta, runMean, runVar, false, eps); msg != "" {
		return tp.fail("conv2dbnrelu: weight %v%s", ws, msg)
	}
	// BatchNorm's evaluation-mode scale and shift, computed as it does.
	gam := tp.Buffer(cout).Data
	if gamma != nil {
		copy(gam, gamma.Value.Data)
	} else {
		for c := range gam {
			gam[c] = 1
		}
	}
	istd, mul, add := tp.Buffer(cout).Data, tp.Buffer(cout).Data, tp.Buffer(cout).Data
	bnRunningIstd(istd, runVar.Data, eps)
	bnScaleShift(mul, add, gam, istd, beta)
	epi := &kernels.ConvEpilogue{Sub: runMean.Data, Mul: mul, Add: add, ReLU: true}
	out := tp.conv2d("conv2dbnrelu", x, w, b, stride, pad, epi)
	if out == nil {
		return tp.newVar(1)
	}
	return out
}

func conv2dBackward(tp *Tape, n *node) {
	x, w := n.in[0], n.in[1]
	xs, ws := x.Value.Shape, w.Value.Shape
	g := kernels.NewConvGeom(xs[0], xs[1], xs[2], xs[3], ws[2], ws[3], n.ints[0], n.ints[1])
	var gw, gb, gx []float32
	if w.requiresGrad {
		gw = tp.grad(w).Data
	}
	if len(n.in) > 2 && n.in[2].requiresGrad {
		gb = tp.grad(n.in[2]).Data
	}
	fresh := false
	if x.requiresGrad {
		var t *tensor.Tensor
		t, fresh = tp.gradOut(x)
		gx = t.Data
	}
	kernels.Conv2dBackward(g, ws[0], w.Value.Data, x.Value.Data, n.out.Grad.Data, gw, gb, gx, fresh)
}

// ConvTranspose2d returns the transposed convolution of x [N,Cin,H,W] with
// w [Cin,Cout,kH,kW] (PyTorch's layout), plus the bias b [Cout] when b is not
// nil: an output [N,Cout,Hout,Wout] with Hout = (H-1)*stride-2*pad+kH+outPad
// and likewise Wout. It is the gradient of Conv2d(·, w, nil, stride, pad)
// with respect to its input; outPad (below stride) picks among the output
// sizes that such a convolution maps to H x W.
func (tp *Tape) ConvTranspose2d(x, w, b *Var, stride, pad, outPad int) *Var {
	if tp.failed() || tp.bad("convtranspose2d", "x", x) || tp.bad("convtranspose2d", "w", w) {
		return tp.newVar(1)
	}
	xs, ws := x.Value.Shape, w.Value.Shape
	if msg := convArgs(xs, ws, stride, pad); msg != "" {
		return tp.fail("convtranspose2d: input %v, weight %v, stride %d, pad %d: %s", xs, ws, stride, pad, msg)
	}
	if outPad < 0 || outPad >= stride {
		return tp.fail("convtranspose2d: output padding %d must lie in [0, stride %d)", outPad, stride)
	}
	if xs[1] != ws[0] {
		return tp.fail("convtranspose2d: input %v has %d channels, weight %v expects %d", xs, xs[1], ws, ws[0])
	}
	cin, cout := ws[0], ws[1]
	if b != nil && (len(b.Value.Shape) != 1 || b.Value.Shape[0] != cout) {
		return tp.fail("convtranspose2d: bias %v for weight %v: want [%d]", b.Value.Shape, ws, cout)
	}
	oh := (xs[2]-1)*stride - 2*pad + ws[2] + outPad
	ow := (xs[3]-1)*stride - 2*pad + ws[3] + outPad
	if oh < 1 || ow < 1 {
		return tp.fail("convtranspose2d: input %v, weight %v, stride %d, pad %d: empty output %dx%d", xs, ws, stride, pad, oh, ow)
	}
	// The convolution this op transposes maps out [N,Cout,oh,ow] to x.
	g := kernels.NewConvGeom(xs[0], cout, oh, ow, ws[2], ws[3], stride, pad)
	out := tp.newVar(g.N, cout, oh, ow)
	k, np := g.ColRows(), g.ColCols()
	xm := tp.Buffer(cin, np)
	cols := tp.Buffer(k, np)
	kernels.NCHWToCNHW(xm.Data, x.Value.Data, g.N, cin, g.OH*g.OW)
	kernels.Sgemm(true, false, k, np, cin, 1, w.Value.Data, k, xm.Data, np, 0, cols.Data, np)
	od := out.Value.Data
	if b != nil {
		plane := oh * ow
		for i, bd := 0, b.Value.Data; i < g.N*cout; i++ {
			p := od[i*plane : (i+1)*plane]
			for j := range p {
				p[j] = bd[i%cout]
			}
		}
	} else {
		clear(od)
	}
	kernels.Col2im(g, cols.Data, od)

	n := tp.record(convTranspose2dBackward, out, x, w, b) // a nil bias is skipped
	if n != nil {
		n.ints[0], n.ints[1] = stride, pad
		n.aux[0], n.aux[1] = xm, cols
	}
	return out
}

func convTranspose2dBackward(tp *Tape, n *node) {
	x, w := n.in[0], n.in[1]
	xs, ws, os := x.Value.Shape, w.Value.Shape, n.out.Value.Shape
	g := kernels.NewConvGeom(xs[0], ws[1], os[2], os[3], ws[2], ws[3], n.ints[0], n.ints[1])
	cin, cout, k, np := ws[0], ws[1], g.ColRows(), g.ColCols()
	xm, cols := n.aux[0].Data, n.aux[1].Data
	gout := n.out.Grad.Data

	if len(n.in) > 2 && n.in[2].requiresGrad {
		gb := tp.grad(n.in[2]).Data
		plane := os[2] * os[3]
		for i := 0; i < g.N*cout; i++ {
			gb[i%cout] += convSum(gout[i*plane : (i+1)*plane])
		}
	}
	if !w.requiresGrad && !x.requiresGrad {
		return
	}
	kernels.Im2col(g, gout, cols)
	if n.flag {
		// An earlier backward pass through this node used xm as scratch.
		kernels.NCHWToCNHW(xm, x.Value.Data, g.N, cin, g.OH*g.OW)
	}
	if w.requiresGrad {
		kernels.Sgemm(false, true, cin, k, np, 1, xm, np, cols, np, 1, tp.grad(w).Data, k)
	}
	if x.requiresGrad {
		// xm is no longer needed: it receives W x cols, the input gradient
		// in channel-major order.
		kernels.Sgemm(false, false, cin, np, k, 1, w.Value.Data, k, cols, np, 0, xm, np)
		n.flag = true
		kernels.CNHWToNCHW(tp.grad(x).Data, xm, g.N, cin, g.OH*g.OW, nil, true)
	}
}

// convSum returns the sum of s, accumulated in float64.
func convSum(s []float32) float32 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += float64(s[i])
		a1 += float64(s[i+1])
		a2 += float64(s[i+2])
		a3 += float64(s[i+3])
	}
	for ; i < len(s); i++ {
		a0 += float64(s[i])
	}
	return float32((a0 + a1) + (a2 + a3))
}
