package autograd

import (
	"fmt"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// cropsCases are crop geometries: overlapping (the reference's stride =
// size/2), touching, gapped, a single crop, and non-square images.
var cropsCases = []struct {
	shape        []int
	size, stride int
}{
	{[]int{2, 3, 8, 8}, 4, 2},   // 3x3 overlapping crops (the reference's fold)
	{[]int{1, 2, 6, 6}, 2, 2},   // touching
	{[]int{2, 1, 7, 5}, 2, 3},   // gaps, non-square, ragged edge
	{[]int{1, 2, 5, 5}, 5, 1},   // one crop: the identity
	{[]int{3, 2, 9, 9}, 3, 1},   // stride 1
	{[]int{2, 2, 32, 32}, 8, 4}, // foldresnet: 7x7 crops of 8x8
}

// cropsRef is the definition of StridedCrops in float64: crop l = i*Wc+j of
// image b is row b*L+l, holding x[b, c, i*stride+y, j*stride+x].
func cropsRef(x *tensor.Tensor, size, stride int) ([]float64, []int) {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	hc, wc := (h-size)/stride+1, (w-size)/stride+1
	out := make([]float64, 0, n*hc*wc*c*size*size)
	for b := 0; b < n; b++ {
		for i := 0; i < hc; i++ {
			for j := 0; j < wc; j++ {
				for ch := 0; ch < c; ch++ {
					for y := 0; y < size; y++ {
						for xx := 0; xx < size; xx++ {
							out = append(out, float64(x.Data[((b*c+ch)*h+i*stride+y)*w+j*stride+xx]))
						}
					}
				}
			}
		}
	}
	return out, []int{n * hc * wc, c, size, size}
}

func TestStridedCropsValues(t *testing.T) {
	rng := tensor.NewRNG(31)
	for _, c := range cropsCases {
		name := fmt.Sprintf("crops %v size %d stride %d", c.shape, c.size, c.stride)
		x := randTensor(rng, -1, 1, c.shape...)
		tp := NewTape()
		got := tp.StridedCrops(tp.Const(x), c.size, c.stride)
		if err := tp.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, ws := cropsRef(x, c.size, c.stride)
		compareValues(t, name, got.Value, want, ws)
	}
}

func TestGradStridedCrops(t *testing.T) {
	rng := tensor.NewRNG(32)
	for _, c := range cropsCases {
		c := c
		x := randTensor(rng, -1, 1, c.shape...)
		checkGrad(t, gradCase{
			name:   fmt.Sprintf("crops %v size %d stride %d", c.shape, c.size, c.stride),
			inputs: []*tensor.Tensor{x},
			build:  func(tp *Tape, in []*Var) *Var { return tp.StridedCrops(in[0], c.size, c.stride) },
			// The op is linear: probe every element of the small cases.
			maxProbe: 200,
		})
	}
}

func TestStridedCropsErrors(t *testing.T) {
	for _, c := range []struct {
		name         string
		shape        []int
		size, stride int
	}{
		{"rank", []int{3, 8, 8}, 4, 2},
		{"size", []int{1, 3, 8, 8}, 0, 2},
		{"stride", []int{1, 3, 8, 8}, 4, 0},
		{"too large", []int{1, 3, 8, 3}, 4, 2},
	} {
		tp := NewTape()
		tp.StridedCrops(tp.Const(tensor.New(c.shape...)), c.size, c.stride)
		if tp.Err() == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestStridedCropsNoAllocs(t *testing.T) {
	x := NewParam(tensor.New(2, 3, 8, 8))
	tp := NewTape()
	step := func() {
		tp.Reset()
		y := tp.StridedCrops(x, 4, 2)
		if err := tp.Backward(tp.Sum(y)); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if a := testing.AllocsPerRun(10, step); a != 0 {
		t.Errorf("%v allocations per warm step, want 0", a)
	}
}
