package data

import (
	"fmt"
	"testing"
)

// BenchmarkLoader measures how long a Loader takes to serve one batch of 64
// images (ms/batch is reported; a DIM training step takes 100 ms or more).
func BenchmarkLoader(b *testing.B) {
	for _, bc := range []struct {
		name    string
		c, side int
		opts    LoaderOptions
	}{
		{"mnist-28x28", 1, 28, LoaderOptions{}},
		{"cifar-32x32x3-crop-flip", 3, 32, LoaderOptions{Crop: 32, Pad: 4, Flip: true}},
		{"stl-96x96x3-crop64-flip", 3, 96, LoaderOptions{Crop: 64, Flip: true}},
	} {
		for _, workers := range []int{1, 0} {
			b.Run(fmt.Sprintf("%s/workers=%d", bc.name, workers), func(b *testing.B) {
				ds := seqDataset(b, 2000, bc.c, bc.side, bc.side, 10)
				o := bc.opts
				o.BatchSize, o.Shuffle, o.Seed, o.Workers = 64, true, 1, workers
				l, err := NewLoader(ds, o)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				b.ResetTimer()
				for b.Loop() {
					if _, err := l.Next(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
			})
		}
	}
}
