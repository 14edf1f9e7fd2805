package data

import (
	"math"
	"testing"
)

func TestChannelStats(t *testing.T) {
	// Two 1x2 RGB images: channel 0 is {0, 255, 0, 255}, channel 1 constant
	// 51, channel 2 {255, 255, 0, 0}.
	pix := []uint8{0, 255, 51, 51, 255, 255, 0, 255, 51, 51, 0, 0}
	ds, err := NewMemory(3, 1, 2, pix, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	mean, std, err := ChannelStats(ds)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]float64{{0.5, 0.5}, {0.2, 0}, {0.5, 0.5}}
	for c, w := range want {
		if math.Abs(float64(mean[c])-w[0]) > 1e-6 || math.Abs(float64(std[c])-w[1]) > 1e-5 {
			t.Errorf("channel %d: mean %v std %v, want %v", c, mean[c], std[c], w)
		}
	}
}
