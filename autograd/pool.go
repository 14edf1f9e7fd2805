package autograd

import "github.com/deepinfomax/deepinfomax/kernels"

// poolGeom validates the arguments of a pooling op and returns its
// geometry, or an error message.
func poolGeom(xs []int, kernel, stride, pad int) (kernels.ConvGeom, string) {
	switch {
	case len(xs) != 4:
		return kernels.ConvGeom{}, "want a 4-D input [N,C,H,W]"
	case kernel < 1 || stride < 1:
		return kernels.ConvGeom{}, "kernel and stride must be at least 1"
	case pad < 0 || pad > kernel/2:
		return kernels.ConvGeom{}, "padding must lie in [0, kernel/2]"
	case xs[0] < 1 || xs[1] < 1 || xs[2] < 1 || xs[3] < 1:
		return kernels.ConvGeom{}, "input sizes must be positive"
	case xs[2]+2*pad < kernel || xs[3]+2*pad < kernel:
		return kernels.ConvGeom{}, "kernel larger than the padded input"
	case xs[2]*xs[3] > 1<<24:
		return kernels.ConvGeom{}, "planes above 2^24 values are not supported"
	}
	return kernels.NewConvGeom(xs[0], xs[1], xs[2], xs[3], kernel, kernel, stride, pad), ""
}

// MaxPool2d returns the maximum of x [N,C,H,W] over each kernel x kernel
// window moved by stride, with pad positions of padding on every side that
// never win (as if they held -Inf): an output [N,C,Hout,Wout] with
// Hout = (H+2*pad-kernel)/stride+1. pad may be at most kernel/2. The
// gradient flows to the first maximal element of each window.
func (tp *Tape) MaxPool2d(x *Var, kernel, stride, pad int) *Var {
	if tp.failed() || tp.bad("maxpool2d", "x", x) {
		return tp.newVar(1)
	}
	g, msg := poolGeom(x.Value.Shape, kernel, stride, pad)
	if msg != "" {
		return tp.fail("maxpool2d: input %v, kernel %d, stride %d, pad %d: %s", x.Value.Shape, kernel, stride, pad, msg)
	}
	out := tp.newVar(g.N, g.C, g.OH, g.OW)
	// The argmax positions are kept only when the op will be recorded.
	var idx []float32
	n := tp.record(maxPool2dBackward, out, x)
	if n != nil {
		n.ints[0], n.ints[1], n.ints[2] = kernel, stride, pad
		n.aux[0] = tp.Buffer(g.N, g.C, g.OH, g.OW)
		idx = n.aux[0].Data
	}
	kernels.MaxPool2d(g, x.Value.Data, out.Value.Data, idx)
	return out
}

func maxPool2dBackward(tp *Tape, n *node) {
	x := n.in[0]
	xs := x.Value.Shape
	g := kernels.NewConvGeom(xs[0], xs[1], xs[2], xs[3], n.ints[0], n.ints[0], n.ints[1], n.ints[2])
	kernels.MaxPool2dBackward(g, n.out.Grad.Data, n.aux[0].Data, tp.grad(x).Data)
}

// AvgPool2d returns the mean of x [N,C,H,W] over each kernel x kernel window
// moved by stride, with pad zeros of padding on every side that count in the
// mean (PyTorch's count_include_pad=True): an output [N,C,Hout,Wout] with
// Hout = (H+2*pad-kernel)/stride+1. pad may be at most kernel/2.
func (tp *Tape) AvgPool2d(x *Var, kernel, stride, pad int) *Var {
	if tp.failed() || tp.bad("avgpool2d", "x", x) {
		return tp.newVar(1)
	}
	g, msg := poolGeom(x.Value.Shape, kernel, stride, pad)
	if msg != "" {
		return tp.fail("avgpool2d: input %v, kernel %d, stride %d, pad %d: %s", x.Value.Shape, kernel, stride, pad, msg)
	}
	out := tp.newVar(g.N, g.C, g.OH, g.OW)
	kernels.AvgPool2d(g, x.Value.Data, out.Value.Data)
	if n := tp.record(avgPool2dBackward, out, x); n != nil {
		n.ints[0], n.ints[1], n.ints[2] = kernel, stride, pad
	}
	return out
}

func avgPool2dBackward(tp *Tape, n *node) {
	x := n.in[0]
	xs := x.Value.Shape
	g := kernels.NewConvGeom(xs[0], xs[1], xs[2], xs[3], n.ints[0], n.ints[0], n.ints[1], n.ints[2])
	kernels.AvgPool2dBackward(g, n.out.Grad.Data, tp.grad(x).Data)
}
