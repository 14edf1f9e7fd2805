package dim

import (
	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// MINet is the reference code's 1x1 MI network ("encode-and-dot"): a 1x1
// convolution without bias, BatchNorm, ReLU and a second 1x1 convolution,
// plus a linear 1x1 shortcut initialised near the identity, then LayerNorm
// over channels. It works on rows: x is [R, in] with one row per location
// (N*H*W rows for a feature map, N for a vector), which makes every 1x1
// convolution one matrix product. Its parameters are named as the
// reference's (block_nonlinear.0 / .1 / .3, linear_shortcut, block_ln).
type MINet struct {
	Conv1 *nn.Linear    `nn:"block_nonlinear.0"`
	BN    *nn.BatchNorm `nn:"block_nonlinear.1"`
	Conv2 *nn.Linear    `nn:"block_nonlinear.3"`
	Short *nn.Linear    `nn:"linear_shortcut"`
	LN    *nn.LayerNorm `nn:"block_ln"`
}

// NewMINet returns an MI network from in to units features.
func NewMINet(in, units int, rng *tensor.RNG) *MINet {
	m := &MINet{
		Conv1: nn.NewLinear(in, units, false, rng),
		BN:    nn.NewBatchNorm(units, true),
		Conv2: nn.NewLinear(units, units, true, rng),
		Short: nn.NewLinear(in, units, false, rng),
		LN:    nn.NewLayerNorm(units),
	}
	if units >= in {
		// Shortcut: U(-0.01, 0.01) with ones on the diagonal, as the reference.
		w := m.Short.W.Value
		rng.Uniform(w, -0.01, 0.01)
		for i := 0; i < in; i++ {
			w.Data[i*in+i] = 1
		}
	}
	return m
}

// Forward implements nn.Module on rows [R, in], giving [R, units]. The
// second convolution and the shortcut, whose outputs are summed, are one op
// (autograd.Tape.LinearSum: the shortcut's product adds into the block's
// output, and the backward pass packs their output gradient once for both
// input gradients and once for both weight gradients), bit for bit the two
// Linear ops and LayerNorm of their sum (decision #55).
func (m *MINet) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	h := m.BN.ForwardReLU(tp, m.Conv1.Forward(tp, x))
	return m.LN.Forward(tp, tp.LinearSum(h, m.Conv2.W, m.Conv2.B, x, m.Short.W))
}

// rows turns a feature map [N,C,H,W] into rows [N*H*W, C], one per location.
func rows(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	s := x.Value.Shape
	return tp.Reshape(tp.Permute(x, 0, 2, 3, 1), s[0]*s[2]*s[3], s[1])
}
