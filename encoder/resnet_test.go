package encoder

import (
	"math"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// layerNetCases are the encoders built from the reference's layer lists,
// with the tap shapes derived by hand from rdevon/DIM
// cortex_DIM/configs/resnets.py and convnets.py (sizes: conv (H+2p-k)/s+1,
// pool (H-k)/s+1; a bottleneck's width is 4x its first 1x1), and some
// parameter names and shapes as the reference's PyTorch state_dict has
// them (BigEncoder.encoder.layers.layer<i>...).
var layerNetCases = []struct {
	name    string
	c, size int
	// local, conv: the maps; fc: units; globals: the extra map (nil: none).
	local, conv, globals []int
	fc                   int
	params               map[string][]int
	// large encoders (the folded ResNets' 51M-weight fc) are skipped in
	// -short mode.
	large bool
}{
	{
		// 32 -(conv 3x3/2 p1)-> 16x16x64 -(64 blocks)-> 16x16x256
		// -(layer 2: first 128 block, 3x3/2)-> 8x8x512 = local
		// -(128)-> 8x8x512 -(256/2)-> 4x4x1024 -(layer 5)-> 4x4x1024 = conv
		// -> flatten 16384 -> fc 1024 -> Y 64.
		name: "resnet19_32x32", c: 3, size: 32,
		local: []int{512, 8, 8}, conv: []int{1024, 4, 4}, fc: 1024,
		params: map[string][]int{
			"encoder.layers.layer0.conv.weight":                              {64, 3, 3, 3},
			"encoder.layers.layer1.resblock_0.layers.layer0.conv.weight":     {64, 64, 1, 1},
			"encoder.layers.layer1.resblock_0.layers.layer2.bn.running_mean": {256},
			"encoder.layers.layer1.resblock_0.downsample.0.weight":           {256, 64, 1, 1},
			"encoder.layers.layer2.layers.layer1.conv.weight":                {128, 128, 3, 3},
			"encoder.layers.layer2.downsample.0.weight":                      {512, 256, 1, 1},
			"encoder.layers.layer7.fc.weight":                                {1024, 16384},
			"encoder.layers.layer7.bn.running_var":                           {1024},
			"encoder.layers.layer8.weight":                                   {64, 1024},
			"encoder.layers.layer8.bias":                                     {64},
		},
	},
	{
		// As resnet19 with 3, 1, 5, 1, 2 blocks per stage: the same shapes.
		name: "resnet34_32x32", c: 3, size: 32,
		local: []int{512, 8, 8}, conv: []int{1024, 4, 4}, fc: 1024,
		params: map[string][]int{
			"encoder.layers.layer1.resblock_2.layers.layer0.conv.weight": {64, 256, 1, 1},
			"encoder.layers.layer3.resblock_4.layers.layer2.conv.weight": {512, 128, 1, 1},
			"encoder.layers.layer5.resblock_1.layers.layer1.bn.weight":   {256},
			"encoder.layers.layer8.weight":                               {64, 1024},
		},
	},
	{
		// 49 crops 8x8 (stride 4: 2*(32/8)-1 = 7 per side) -(conv 3x3/2)->
		// 4x4x64 -> 4x4x256 -(128/2)-> 2x2x512 -> 2x2x512 -(256/2)->
		// 1x1x1024 -> 1x1x1024 -(layer 7: fold)-> 7x7x1024 = local = conv
		// -> flatten 50176 -> fc 1024 -> Y 64.
		name: "foldresnet19_32x32", c: 3, size: 32, large: true,
		local: []int{1024, 7, 7}, conv: []int{1024, 7, 7}, fc: 1024,
		params: map[string][]int{
			"encoder.layers.layer1.conv.weight":         {64, 3, 3, 3},
			"encoder.layers.layer5.downsample.0.weight": {1024, 512, 1, 1},
			"encoder.layers.layer9.fc.weight":           {1024, 50176},
			"encoder.layers.layer10.weight":             {64, 1024},
		},
	},
	{
		// As foldresnet19 with resnet34's blocks: the same shapes.
		name: "foldresnet34_32x32", c: 3, size: 32, large: true,
		local: []int{1024, 7, 7}, conv: []int{1024, 7, 7}, fc: 1024,
		params: map[string][]int{
			"encoder.layers.layer4.resblock_4.layers.layer1.conv.weight": {128, 128, 3, 3},
			"encoder.layers.layer9.fc.weight":                            {1024, 50176},
		},
	},
	{
		// 49 crops 16x16 (stride 8) -(conv, pool 3/2)-> 7x7x96 -(conv,
		// pool)-> 3x3x192 -> 3x3x384 -> 3x3x384 -(conv, pool)-> 1x1x192
		// -(layer 6: fold)-> 7x7x192 = local = conv -(3x3, no pad)-> 5x5x192
		// -(layer 8: 1x1)-> 5x5x192 = globals; fc = globals flattened (4800);
		// Y 64 (a Linear after a map: its block is flatten + fc).
		name: "foldmultialex64x64", c: 3, size: 64,
		local: []int{192, 7, 7}, conv: []int{192, 7, 7}, globals: []int{192, 5, 5}, fc: 4800,
		params: map[string][]int{
			"encoder.layers.layer1.conv.weight": {96, 3, 3, 3},
			"encoder.layers.layer7.conv.weight": {192, 192, 3, 3},
			"encoder.layers.layer8.bn.bias":     {192},
			"encoder.layers.layer9.fc.weight":   {64, 4800},
			"encoder.layers.layer9.fc.bias":     {64},
		},
	},
}

// TestReferenceLayerNets checks, for each encoder built from the
// reference's layer lists: the spec and tap shapes against the reference's;
// the taps Encode produces on a batch of 2 against TapShape; a training
// step's gradient (loss = sum of Y squared) reaching every parameter,
// finite and somewhere non-zero; and a checkpoint round trip through
// nn.StateOf(...).Tensors() and Load giving the same Y in eval mode.
func TestReferenceLayerNets(t *testing.T) {
	for _, c := range layerNetCases {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.large {
				t.Skip("large encoder in -short mode (TestLayerNet* cover the folded path)")
			}
			e, err := New(Spec{Name: c.name}, tensor.NewRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			if Doc(c.name) == "" {
				t.Errorf("Doc(%q) is empty", c.name)
			}
			s := e.Spec()
			if s.Name != c.name || s.Channels != c.c || s.Size != c.size || s.Out != 64 {
				t.Errorf("Spec() = %+v, want %s %dx%d out 64", s, c.name, c.c, c.size)
			}
			want := map[string][]int{TapLocal: c.local, TapConv: c.conv, TapFC: {c.fc}, TapY: {64}}
			wantTaps := []string{TapLocal, TapConv, TapFC, TapY}
			if c.globals != nil {
				want[TapGlobals] = c.globals
				wantTaps = append(wantTaps, TapGlobals)
			}
			if !slices.Equal(e.Taps(), wantTaps) {
				t.Errorf("Taps() = %v, want %v", e.Taps(), wantTaps)
			}
			if _, err := e.TapShape("nope"); err == nil {
				t.Error("TapShape of an unknown tap: no error")
			}

			x := tensor.New(2, c.c, c.size, c.size)
			tensor.NewRNG(2).Uniform(x, -1, 1)
			st := nn.StateOf(e, "encoder") // fresh parameters: zero gradients
			tp := autograd.NewTape()
			f := e.Encode(tp, tp.Const(x))
			loss := tp.Sum(tp.Square(f.Y))
			if err := tp.Backward(loss); err != nil {
				t.Fatalf("forward and backward: %v", err)
			}
			for _, tap := range e.Taps() {
				shape, err := e.TapShape(tap)
				if err != nil {
					t.Fatalf("TapShape(%s): %v", tap, err)
				}
				if !slices.Equal(shape, want[tap]) {
					t.Errorf("TapShape(%s) = %v, want %v", tap, shape, want[tap])
				}
				v, err := f.Tap(tap)
				if err != nil || v == nil {
					t.Fatalf("Tap(%s) = %v, %v", tap, v, err)
				}
				if got := v.Value.Shape; got[0] != 2 || !slices.Equal(got[1:], shape) {
					t.Errorf("tap %s: Encode gives %v, TapShape %v", tap, got, shape)
				}
			}
			if l := float64(loss.Item()); math.IsNaN(l) || math.IsInf(l, 0) || l == 0 {
				t.Errorf("loss %v", l)
			}
			for _, p := range st.Params {
				nonZero := false
				for _, g := range p.Var.Grad.Data {
					if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
						t.Fatalf("%s: gradient %v", p.Name, g)
					}
					nonZero = nonZero || g != 0
				}
				if !nonZero {
					t.Errorf("%s: gradient is zero everywhere", p.Name)
				}
			}
			ts := st.Tensors()
			for name, shape := range c.params {
				if got, ok := ts[name]; !ok {
					t.Errorf("no tensor %s", name)
				} else if !slices.Equal(got.Shape, shape) {
					t.Errorf("%s: shape %v, want %v", name, got.Shape, shape)
				}
			}

			// Checkpoint round trip, in eval mode (the running statistics
			// of the step above are part of the state), on one image: the
			// state is saved (cloned) by name, every parameter and buffer
			// overwritten, and the saved state loaded back. (A second
			// instance would cost another initialisation of the 51M
			// weights of the folded ResNets' fc; TestLayerNetCheckpoint
			// loads into a fresh instance of a small LayerNet.)
			if n := len(st.Params) + len(st.Buffers); len(ts) != n {
				t.Fatalf("%d names for %d parameters and buffers", len(ts), n)
			}
			nn.SetTraining(e, false)
			x = &tensor.Tensor{Shape: []int{1, c.c, c.size, c.size}, Data: x.Data[:c.c*c.size*c.size]}
			y1 := evalY(t, e, x)
			saved := make(map[string]*tensor.Tensor, len(ts))
			for name, v := range ts {
				saved[name] = v.Clone()
			}
			for _, p := range st.Params {
				p.Var.Value.Fill(0.5)
			}
			for _, b := range st.Buffers {
				b.Tensor.Fill(2)
			}
			if err := nn.StateOf(e, "encoder").Load(saved); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if d := maxDiff(y1, evalY(t, e, x)); d != 0 {
				t.Errorf("Y after a checkpoint round trip differs by %g", d)
			}
		})
	}
}
