package mi_test

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Scores of 2 global vectors against 2 samples x 1 location: the diagonal
// holds the positive pairs. High positive and low negative scores give a
// low loss (a high MI estimate).
func ExampleCache_Loss() {
	u, _ := tensor.FromSlice([]float32{5, -5, -5, 5}, 2, 2)
	var c mi.Cache
	tp := autograd.NewTape()
	for _, m := range []mi.Measure{mi.JSD, mi.NCE, mi.DV} {
		loss, err := c.Loss(tp, m, tp.Const(u))
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %.4f\n", m, loss.Item())
	}
	// Output:
	// jsd -1.3729
	// nce 0.0000
	// dv -10.0000
}

// A critic that scores samples of P high and samples of Q low has a low
// discriminator loss; the generator loss of Q's samples is then high.
func ExampleDiscriminatorLoss() {
	p, _ := tensor.FromSlice([]float32{4, 3, 5}, 3, 1)
	q, _ := tensor.FromSlice([]float32{-4, -3}, 2, 1)
	tp := autograd.NewTape()
	d, err := mi.DiscriminatorLoss(tp, mi.GAN, tp.Const(p), tp.Const(q))
	if err != nil {
		panic(err)
	}
	g, err := mi.GeneratorLoss(tp, mi.GAN, tp.Const(q))
	if err != nil {
		panic(err)
	}
	fmt.Printf("discriminator %.4f generator %.4f\n", d.Item(), g.Item())
	// Output:
	// discriminator 0.0579 generator 3.5334
}
