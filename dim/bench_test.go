package dim

import (
	"testing"

	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// BenchmarkTrainStep times one DIM(L) training step (forward, backward,
// Adam) of basic28x28 with batch 64 and JSD, at 512 and 2048 MI units. Run
// with -benchmem: a warm step allocates nothing.
//
//	go test -run XXX -bench TrainStep -benchmem ./dim
func BenchmarkTrainStep(b *testing.B) {
	for _, units := range []int{512, 2048} {
		b.Run(map[int]string{512: "mi-units=512", 2048: "mi-units=2048"}[units], func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MIUnits = units
			m := newModel(b, cfg, encoder.Spec{Name: "basic28x28"})
			x := tensor.New(cfg.Batch, 1, 28, 28)
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
