// Command supervised trains a small convolutional classifier on MNIST with
// the numerical core alone (tensors, autograd, nn, optim): the core's
// end-to-end check. With the defaults (10k training images, 3 epochs) it
// reaches about 98-99% on the 10k test images in a minute or two on 2 cores.
//
//	go run ./examples/supervised [-train 10000] [-epochs 3]
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Options configure a run.
type Options struct {
	Spec   string
	Train  int // training images used (the first ones of the split)
	Epochs int
	Batch  int
	LR     float64
	Seed   uint64
}

// Result is what a run achieved.
type Result struct {
	TestAcc float64
	Seconds float64
}

// NewNet returns the classifier: two conv blocks (5x5, BatchNorm, ReLU,
// 2x2 max pool) and two linear layers with dropout.
func NewNet(rng *tensor.RNG) *nn.Sequential {
	return nn.NewSequential(
		nn.NewConv2d(1, 32, 5, 1, 2, true, rng), nn.NewBatchNorm(32, true), nn.ReLU, &nn.MaxPool2d{Kernel: 2, Stride: 2},
		nn.NewConv2d(32, 64, 5, 1, 2, true, rng), nn.NewBatchNorm(64, true), nn.ReLU, &nn.MaxPool2d{Kernel: 2, Stride: 2},
		nn.Flatten, nn.NewLinear(64*7*7, 128, true, rng), nn.ReLU, nn.NewDropout(0.25, rng),
		nn.NewLinear(128, 10, true, rng),
	)
}

// Run trains the classifier and measures test accuracy.
func Run(o Options) (Result, error) {
	start := time.Now()
	split, err := data.Open(o.Spec, data.Options{})
	if err != nil {
		return Result{}, err
	}
	defer split.Close()
	idx := make([]int, min(o.Train, split.Train.Len()))
	for i := range idx {
		idx[i] = i
	}
	train := data.Subset(split.Train, idx)
	loader, err := data.NewLoader(train, data.LoaderOptions{BatchSize: o.Batch, Seed: o.Seed, Shuffle: true, Epochs: o.Epochs})
	if err != nil {
		return Result{}, err
	}
	defer loader.Close()
	rng := tensor.NewRNG(o.Seed)
	net := NewNet(rng)
	st := nn.StateOf(net, "")
	opt, err := optim.NewAdam(st.Vars(), optim.AdamConfig{LR: o.LR})
	if err != nil {
		return Result{}, err
	}
	tp := autograd.NewTape()
	x := &tensor.Tensor{}
	bar := runlog.NewProgress(os.Stderr, o.Epochs*loader.BatchesPerEpoch(), "train")
	for {
		b, err := loader.Next()
		if err != nil {
			break // io.EOF after the last epoch
		}
		x.Shape = append(x.Shape[:0], b.N, b.C, b.H, b.W)
		x.Data = b.X
		tp.Reset()
		loss := tp.CrossEntropy(net.Forward(tp, tp.Const(x)), b.Labels)
		opt.ZeroGrad()
		if err := tp.Backward(loss); err != nil {
			return Result{}, err
		}
		opt.Step()
		bar.Add(1, fmt.Sprintf("loss=%.4f", loss.Item()))
	}
	bar.Finish()
	nn.SetTraining(net, false)
	test, labels, err := load(split.Test)
	if err != nil {
		return Result{}, err
	}
	acc := eval.Accuracy(net, test, labels)
	return Result{TestAcc: acc, Seconds: time.Since(start).Seconds()}, nil
}

// load converts a whole data set to one [N,C,H,W] tensor in [-1, 1].
func load(ds data.Dataset) (*tensor.Tensor, []int, error) {
	c, h, w := ds.Shape()
	x := tensor.New(ds.Len(), c, h, w)
	labels := make([]int, ds.Len())
	for b, err := range data.Chunks(ds, 1000, data.Transform{}) {
		if err != nil {
			return nil, nil, err
		}
		copy(x.Data[b.Start*c*h*w:], b.X)
		copy(labels[b.Start:], b.Labels)
	}
	return x, labels, nil
}

func main() {
	var o Options
	flag.StringVar(&o.Spec, "data", "mnist", "data set spec")
	flag.IntVar(&o.Train, "train", 10000, "training images")
	flag.IntVar(&o.Epochs, "epochs", 3, "epochs")
	flag.IntVar(&o.Batch, "batch", 64, "batch size")
	flag.Float64Var(&o.LR, "lr", 1e-3, "Adam learning rate")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed")
	flag.Parse()
	r, err := Run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "supervised:", err)
		os.Exit(1)
	}
	fmt.Printf("test accuracy %.2f%% (%d training images, %d epochs, %.0f s)\n", 100*r.TestAcc, o.Train, o.Epochs, r.Seconds)
}
