package dim

import (
	"fmt"
	"testing"

	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// BenchmarkTrainStep times one DIM(L) training step (forward, backward,
// Adam) of basic28x28 and basic32x32 with batch 64 and JSD, at 512 and 2048
// MI units. Run with -benchmem: a warm step allocates nothing.
//
//	go test -run XXX -bench TrainStep -benchmem ./dim
func BenchmarkTrainStep(b *testing.B) {
	for _, arch := range []string{"basic28x28", "basic32x32"} {
		for _, units := range []int{512, 2048} {
			b.Run(fmt.Sprintf("%s/mi-units=%d", arch, units), func(b *testing.B) {
				cfg := DefaultConfig()
				cfg.MIUnits = units
				m := newModel(b, cfg, encoder.Spec{Name: arch})
				s := m.Encoder().Spec()
				x := tensor.New(cfg.Batch, s.Channels, s.Size, s.Size)
				tensor.NewRNG(1).Uniform(x, -1, 1)
				for range 2 { // warm the tape's buffers
					if _, err := m.StepImages(x); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := m.StepImages(x); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
