package encoder_test

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Build the MNIST-size reference encoder by name and list its taps: the
// local map local DIM scores, the conv and fc features the classifiers
// read, and the representation Y.
func Example() {
	enc, err := encoder.New(encoder.Spec{Name: "basic28x28"}, tensor.NewRNG(0))
	if err != nil {
		panic(err)
	}
	s := enc.Spec()
	fmt.Printf("%s takes %dx%dx%d images\n", s.Name, s.Channels, s.Size, s.Size)
	for _, tap := range enc.Taps() {
		shape, err := enc.TapShape(tap)
		if err != nil {
			panic(err)
		}
		fmt.Println(tap, shape)
	}
	// Output:
	// basic28x28 takes 1x28x28 images
	// local [128 7 7]
	// conv [128 7 7]
	// fc [1024]
	// y [64]
}
