package dim

import (
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestEveryEncoderTrains runs two DIM training steps (local, global and
// prior terms) with every registered encoder on random input of its size:
// what dim train does between loading the data and writing checkpoints
// (the CLI tests run the basic and folded-AlexNet encoders through dim
// train itself; the ResNets' checkpoints are too large for unit tests).
func TestEveryEncoderTrains(t *testing.T) {
	for _, name := range encoder.Names() {
		if strings.HasPrefix(encoder.Doc(name), "a test") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			cfg := tinyConfig(mi.JSD, 0.5, 1)
			cfg.MIUnits, cfg.Batch = 8, 2
			cfg.SetWeight("gamma", 0.1)
			m := newModel(t, cfg, encoder.Spec{Name: name})
			s := m.Encoder().Spec()
			x := tensor.New(2, s.Channels, s.Size, s.Size)
			tensor.NewRNG(1).Uniform(x, -1, 1)
			for range 2 {
				losses, err := m.StepImages(x)
				if err != nil {
					t.Fatal(err)
				}
				if v := losses[0].Value; v != v {
					t.Fatalf("loss %v", v)
				}
			}
		})
	}
}
