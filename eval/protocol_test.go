package eval_test

// Tests of the probe protocol: what LinearProbe standardises with and
// which number of epochs it keeps.

import (
	"math/rand/v2"
	"testing"

	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestProbeStandardisesWithTrainingStatistics plants a test set whose
// informative column is shifted far from the training one. Standardised
// with the training statistics (the protocol), every test row lies deep on
// the side of one class, so the probe must predict that class everywhere
// and its test accuracy is exactly that class's share of the test labels.
// Standardised with the test set's own statistics the shift would vanish
// and the accuracy would be close to 1.
func TestProbeStandardisesWithTrainingStatistics(t *testing.T) {
	const d, nTrain, nTest = 3, 200, 100
	rng := rand.New(rand.NewPCG(1, 2))
	// Training rows: the label is the sign of column 0; columns 1, 2 are noise.
	trainX := tensor.New(nTrain, d)
	trainY := make([]int, nTrain)
	for i := range nTrain {
		for j := range d {
			trainX.Data[i*d+j] = float32(rng.NormFloat64())
		}
		if trainX.Data[i*d] > 0 {
			trainY[i] = 1
		}
	}
	for _, c := range []struct {
		name   string
		offset float32
		class  int // the class every shifted test row falls into
	}{{"shifted up", 50, 1}, {"shifted down", -50, 0}} {
		t.Run(c.name, func(t *testing.T) {
			// Test rows: 30% of class 1 by the same rule, then column 0 shifted.
			testX := tensor.New(nTest, d)
			testY := make([]int, nTest)
			share := 0
			for i := range nTest {
				for j := range d {
					testX.Data[i*d+j] = float32(rng.NormFloat64())
				}
				v := float32(-0.1 - rng.Float64()) // in (-1.1, -0.1]: class 0
				if i%10 < 3 {
					v, testY[i] = -v, 1
				}
				testX.Data[i*d] = v + c.offset
				if testY[i] == c.class {
					share++
				}
			}
			res, err := eval.LinearProbe(trainX, trainY, testX, testY, 2, eval.ProbeConfig{Batch: 20, LR: 0.05, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			if res.TrainAcc < 0.95 {
				t.Fatalf("train accuracy %.3f: the probe did not learn the planted rule", res.TrainAcc)
			}
			want := float64(share) / nTest
			if res.TestAcc != want {
				t.Errorf("test accuracy %.3f, want %.3f (every shifted row predicted as class %d): the test features were not standardised with the training statistics", res.TestAcc, want, c.class)
			}
		})
	}
}

// overfitSet returns n rows of d features: the first k carry the class
// (mean -1 or +1, unit noise), the rest are pure noise; a fraction flip of
// the labels is flipped.
func overfitSet(seed uint64, n, k, d int, flip float64) (*tensor.Tensor, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := tensor.New(n, d)
	y := make([]int, n)
	for i := range n {
		c := i % 2
		y[i] = c
		for j := range d {
			x.Data[i*d+j] = float32(rng.NormFloat64())
			if j < k {
				x.Data[i*d+j] += float32(2*c - 1)
			}
		}
		if rng.Float64() < flip {
			y[i] = 1 - c
		}
	}
	return x, y
}

// TestProbeKeepsValidationEpochs plants overfitting: few training rows,
// many noise features and 20% wrong training labels (the test labels are
// clean). Accuracy peaks after a few epochs and then falls as the probe
// memorises the noise, so the validation split must stop it early; the
// probe must then report the chosen number of epochs and the accuracies of
// a probe trained that long, not of one trained for every epoch.
func TestProbeKeepsValidationEpochs(t *testing.T) {
	trainX, trainY := overfitSet(1, 120, 30, 200, 0.2)
	testX, testY := overfitSet(2, 1000, 30, 200, 0)
	cfg := eval.ProbeConfig{Epochs: 30, Batch: 8, LR: 2e-3, WeightDecays: []float64{0}, ValFraction: 0.3, Seed: 3}
	res, err := eval.LinearProbe(trainX, trainY, testX, testY, 2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The same probe without selection, trained for a given number of epochs.
	fixed := func(epochs int) eval.ProbeResult {
		c := cfg
		c.ValFraction, c.Epochs = -1, epochs
		r, err := eval.LinearProbe(trainX, trainY, testX, testY, 2, c)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	last := fixed(cfg.Epochs)
	t.Logf("chosen: %d epochs (validation %.3f, test %.3f); all %d epochs: test %.3f", res.Epochs, res.ValAcc, res.TestAcc, cfg.Epochs, last.TestAcc)
	// The planted setting: training to the end overfits.
	if best := fixed(3); best.TestAcc < last.TestAcc+0.05 {
		t.Fatalf("planted overfitting missing: test accuracy %.3f after 3 epochs, %.3f after %d", best.TestAcc, last.TestAcc, cfg.Epochs)
	}
	if res.Epochs < 1 || res.Epochs > cfg.Epochs/3 {
		t.Errorf("chosen %d epochs of %d: validation accuracy peaks early here, the selection should stop early", res.Epochs, cfg.Epochs)
	}
	if res.ValAcc <= 0 || res.ValAcc > 1 {
		t.Errorf("validation accuracy %v, want in (0, 1]", res.ValAcc)
	}
	chosen := fixed(res.Epochs)
	if res.TestAcc != chosen.TestAcc || res.TrainAcc != chosen.TrainAcc {
		t.Errorf("reported train/test accuracy %.4f/%.4f, but a probe trained for the chosen %d epochs gets %.4f/%.4f", res.TrainAcc, res.TestAcc, res.Epochs, chosen.TrainAcc, chosen.TestAcc)
	}
}
