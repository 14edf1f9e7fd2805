package autograd

import (
	"math"

	"github.com/deepinfomax/deepinfomax/kernels"
)

// unary applies f element-wise and records backward, which receives the
// node (input n.in[0], output n.out) and adds into the input's gradient.
func (tp *Tape) unary(name string, x *Var, f func(x float32) float32, backward backwardFunc) (*Var, *node) {
	if tp.failed() || tp.bad(name, "x", x) {
		return tp.newVar(1), nil
	}
	out := tp.newVar(x.Value.Shape...)
	xd, od := x.Value.Data, out.Value.Data
	for i, v := range xd {
		od[i] = f(v)
	}
	return out, tp.record(backward, out, x)
}

// Exp returns e^x element-wise.
func (tp *Tape) Exp(x *Var) *Var {
	out, _ := tp.unary("exp", x, exp32, func(tp *Tape, n *node) {
		gx, g, y := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.out.Value.Data
		for i := range gx {
			gx[i] += g[i] * y[i]
		}
	})
	return out
}

// Log returns the natural logarithm element-wise.
func (tp *Tape) Log(x *Var) *Var {
	out, _ := tp.unary("log", x, func(v float32) float32 { return float32(math.Log(float64(v))) }, func(tp *Tape, n *node) {
		gx, g, xv := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.in[0].Value.Data
		for i := range gx {
			gx[i] += g[i] / xv[i]
		}
	})
	return out
}

// ReLU returns max(x, 0) element-wise (kernels.ReLU: +0 for x <= 0, a NaN
// passed on with its sign cleared).
func (tp *Tape) ReLU(x *Var) *Var {
	if tp.failed() || tp.bad("relu", "x", x) {
		return tp.newVar(1)
	}
	out := tp.newVar(x.Value.Shape...)
	kernels.ReLU(out.Value.Data, x.Value.Data)
	tp.record(reluBackward, out, x)
	return out
}

// reluBackward passes the gradient through where the output is positive:
// it writes a fresh gradient buffer (zeros elsewhere) or adds into an
// existing one.
func reluBackward(tp *Tape, n *node) {
	gt, fresh := tp.gradOut(n.in[0])
	g, y := n.out.Grad.Data, n.out.Value.Data
	if fresh {
		rowPass(rowReLUBack, gt.Data, g, y, 1, len(g))
		return
	}
	rowPass(rowReLUBackAdd, gt.Data, g, y, 1, len(g))
}

// LeakyReLU returns x for x > 0 and slope*x otherwise.
func (tp *Tape) LeakyReLU(x *Var, slope float32) *Var {
	out, n := tp.unary("leakyrelu", x, func(v float32) float32 {
		if v > 0 {
			return v
		}
		return slope * v
	}, func(tp *Tape, n *node) {
		gx, g, xv, s := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.in[0].Value.Data, n.f[0]
		for i := range gx {
			if xv[i] > 0 {
				gx[i] += g[i]
			} else {
				gx[i] += s * g[i]
			}
		}
	})
	if n != nil {
		n.f[0] = slope
	}
	return out
}

// Sigmoid returns 1/(1+e^-x) element-wise.
func (tp *Tape) Sigmoid(x *Var) *Var {
	out, _ := tp.unary("sigmoid", x, sigmoid32, func(tp *Tape, n *node) {
		gx, g, y := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.out.Value.Data
		for i := range gx {
			gx[i] += g[i] * y[i] * (1 - y[i])
		}
	})
	return out
}

// Tanh returns the hyperbolic tangent element-wise.
func (tp *Tape) Tanh(x *Var) *Var {
	out, _ := tp.unary("tanh", x, func(v float32) float32 { return float32(math.Tanh(float64(v))) }, func(tp *Tape, n *node) {
		gx, g, y := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.out.Value.Data
		for i := range gx {
			gx[i] += g[i] * (1 - y[i]*y[i])
		}
	})
	return out
}

// Softplus returns log(1+e^x) element-wise, computed stably.
func (tp *Tape) Softplus(x *Var) *Var {
	out, _ := tp.unary("softplus", x, Softplus32, func(tp *Tape, n *node) {
		gx, g, xv := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.in[0].Value.Data
		for i := range gx {
			gx[i] += g[i] * sigmoid32(xv[i])
		}
	})
	return out
}

// Neg returns -x.
func (tp *Tape) Neg(x *Var) *Var { return tp.Affine(x, -1, 0) }

// Scale returns c*x.
func (tp *Tape) Scale(x *Var, c float32) *Var { return tp.Affine(x, c, 0) }

// AddScalar returns x + c.
func (tp *Tape) AddScalar(x *Var, c float32) *Var { return tp.Affine(x, 1, c) }

// Affine returns a*x + b element-wise for scalars a and b.
func (tp *Tape) Affine(x *Var, a, b float32) *Var {
	out, n := tp.unary("affine", x, func(v float32) float32 { return a*v + b }, func(tp *Tape, n *node) {
		gx, g, a := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.f[0]
		for i := range gx {
			gx[i] += a * g[i]
		}
	})
	if n != nil {
		n.f[0] = a
	}
	return out
}

// Square returns x*x element-wise.
func (tp *Tape) Square(x *Var) *Var {
	out, _ := tp.unary("square", x, func(v float32) float32 { return v * v }, func(tp *Tape, n *node) {
		gx, g, xv := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.in[0].Value.Data
		for i := range gx {
			gx[i] += 2 * xv[i] * g[i]
		}
	})
	return out
}

// Sqrt returns the square root element-wise.
func (tp *Tape) Sqrt(x *Var) *Var {
	out, _ := tp.unary("sqrt", x, func(v float32) float32 { return float32(math.Sqrt(float64(v))) }, func(tp *Tape, n *node) {
		gx, g, y := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.out.Value.Data
		for i := range gx {
			gx[i] += g[i] / (2 * y[i])
		}
	})
	return out
}

// Abs returns |x| element-wise (with gradient sign(x), 0 at 0).
func (tp *Tape) Abs(x *Var) *Var {
	out, _ := tp.unary("abs", x, func(v float32) float32 { return float32(math.Abs(float64(v))) }, func(tp *Tape, n *node) {
		gx, g, xv := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.in[0].Value.Data
		for i := range gx {
			switch {
			case xv[i] > 0:
				gx[i] += g[i]
			case xv[i] < 0:
				gx[i] -= g[i]
			}
		}
	})
	return out
}

func exp32(v float32) float32 { return float32(math.Exp(float64(v))) }

func sigmoid32(v float32) float32 {
	if v >= 0 {
		return float32(1 / (1 + math.Exp(-float64(v))))
	}
	e := math.Exp(float64(v))
	return float32(e / (1 + e))
}

// Softplus32 returns log(1+e^v) without overflow.
func Softplus32(v float32) float32 {
	x := float64(v)
	if x > 0 {
		return float32(x + math.Log1p(math.Exp(-x)))
	}
	return float32(math.Log1p(math.Exp(x)))
}
