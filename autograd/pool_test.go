package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

type poolCase struct{ kernel, stride, pad int }

var poolCases = []poolCase{
	{2, 2, 0},
	{3, 2, 1},
	{3, 1, 1},
	{2, 1, 1},
	{4, 3, 2},
	{1, 1, 0},
	{3, 3, 0},
	{5, 2, 2},
}

// poolRef is the definition of max (or average, counting padding) pooling
// in float64.
func poolRef(x *tensor.Tensor, c poolCase, isMax bool) ([]float64, []int) {
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh := (h+2*c.pad-c.kernel)/c.stride + 1
	ow := (w+2*c.pad-c.kernel)/c.stride + 1
	out := make([]float64, n*ch*oh*ow)
	for p := 0; p < n*ch; p++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				best, sum := math.Inf(-1), 0.0
				for i := 0; i < c.kernel; i++ {
					for j := 0; j < c.kernel; j++ {
						iy, ix := oy*c.stride-c.pad+i, ox*c.stride-c.pad+j
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						v := float64(x.Data[(p*h+iy)*w+ix])
						best = math.Max(best, v)
						sum += v
					}
				}
				if isMax {
					out[(p*oh+oy)*ow+ox] = best
				} else {
					out[(p*oh+oy)*ow+ox] = sum / float64(c.kernel*c.kernel)
				}
			}
		}
	}
	return out, []int{n, ch, oh, ow}
}

// distinctTensor returns a tensor holding a shuffled ramp of values step
// apart, so that no two elements tie for a maximum even after finite
// difference steps below step/2.
func distinctTensor(rng *tensor.RNG, step float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i, j := range rng.Perm(t.Size()) {
		t.Data[i] = step * float32(j-t.Size()/2)
	}
	return t
}

func poolOp(isMax bool, c poolCase) func(tp *Tape, x *Var) *Var {
	if isMax {
		return func(tp *Tape, x *Var) *Var { return tp.MaxPool2d(x, c.kernel, c.stride, c.pad) }
	}
	return func(tp *Tape, x *Var) *Var { return tp.AvgPool2d(x, c.kernel, c.stride, c.pad) }
}

func poolName(isMax bool, c poolCase, shape []int) string {
	op := "avgpool2d"
	if isMax {
		op = "maxpool2d"
	}
	return fmt.Sprintf("%s k%d s%d p%d %v", op, c.kernel, c.stride, c.pad, shape)
}

func TestPoolValues(t *testing.T) {
	rng := tensor.NewRNG(21)
	for _, shape := range [][]int{{3, 5, 7, 9}, {2, 3, 9, 5}, {4, 64, 28, 28}} {
		for _, c := range poolCases {
			for _, isMax := range []bool{true, false} {
				x := randTensor(rng, -1, 1, shape...)
				tp := NewTape()
				got := poolOp(isMax, c)(tp, tp.Const(x))
				if err := tp.Err(); err != nil {
					t.Fatalf("%s: %v", poolName(isMax, c, shape), err)
				}
				want, ws := poolRef(x, c, isMax)
				compareValues(t, poolName(isMax, c, shape), got.Value, want, ws)
			}
		}
	}
}

func TestMaxPoolNaN(t *testing.T) {
	x := tensor.New(1, 1, 2, 2)
	x.Data[1] = float32(math.NaN())
	tp := NewTape()
	if v := tp.MaxPool2d(tp.Const(x), 2, 2, 0).Item(); !math.IsNaN(float64(v)) {
		t.Errorf("max over a window holding NaN = %v, want NaN", v)
	}
}

func TestGradPool(t *testing.T) {
	rng := tensor.NewRNG(22)
	for _, c := range poolCases {
		for _, isMax := range []bool{true, false} {
			shape := []int{3, 5, 7, 9}
			x := distinctTensor(rng, 0.05, shape...)
			f := poolOp(isMax, c)
			checkGrad(t, gradCase{name: poolName(isMax, c, shape), inputs: []*tensor.Tensor{x},
				build: func(tp *Tape, in []*Var) *Var { return f(tp, in[0]) }})
		}
	}
}

func TestPoolErrors(t *testing.T) {
	x := tensor.New(2, 3, 5, 5)
	for _, c := range []struct {
		name                string
		shape               []int
		kernel, stride, pad int
	}{
		{"rank", []int{3, 5, 5}, 2, 2, 0},
		{"kernel", []int{2, 3, 5, 5}, 0, 1, 0},
		{"stride", []int{2, 3, 5, 5}, 2, 0, 0},
		{"pad", []int{2, 3, 5, 5}, 3, 1, 2},
		{"too large", []int{2, 3, 5, 5}, 7, 1, 0},
	} {
		for _, isMax := range []bool{true, false} {
			tp := NewTape()
			in := x
			if len(c.shape) != 4 {
				in = tensor.New(c.shape...)
			}
			poolOp(isMax, poolCase{c.kernel, c.stride, c.pad})(tp, tp.Const(in))
			if tp.Err() == nil {
				t.Errorf("%s (max %v): no error", c.name, isMax)
			}
		}
	}
}
