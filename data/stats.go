package data

import (
	"fmt"
	"math"
)

// ChannelStats returns the mean and standard deviation of each channel of
// ds, in the units of LoaderOptions.Mean and Std (pixel/255), for
// per-channel normalisation. A nil or empty ds, or an image that cannot
// be read, is an error.
func ChannelStats(ds Dataset) (mean, std []float32, err error) {
	if ds == nil {
		return nil, nil, fmt.Errorf("data: channel statistics of a nil data set")
	}
	c, h, w := ds.Shape()
	n := ds.Len()
	if n == 0 {
		return nil, nil, fmt.Errorf("data: channel statistics of an empty data set")
	}
	img := make([]uint8, c*h*w)
	sum := make([]float64, c)
	sq := make([]float64, c)
	for i := 0; i < n; i++ {
		if err := ds.Image(i, img); err != nil {
			return nil, nil, fmt.Errorf("data: channel statistics: image %d: %w", i, err)
		}
		for ch := 0; ch < c; ch++ {
			var s, q float64
			for _, v := range img[ch*h*w : (ch+1)*h*w] {
				x := float64(v) / 255
				s += x
				q += x * x
			}
			sum[ch] += s
			sq[ch] += q
		}
	}
	count := float64(n * h * w)
	mean = make([]float32, c)
	std = make([]float32, c)
	for ch := range mean {
		m := sum[ch] / count
		mean[ch] = float32(m)
		std[ch] = float32(math.Sqrt(math.Max(sq[ch]/count-m*m, 1e-12)))
	}
	return mean, std, nil
}
