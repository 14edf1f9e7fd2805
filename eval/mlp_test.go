package eval

import (
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// xorSet returns points whose class is the XOR of the signs of their first
// two coordinates (plus three noise coordinates): no linear classifier does
// better than chance, an MLP separates them.
func xorSet(seed uint64, n int) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	x := tensor.New(n, 5)
	rng.Uniform(x, -1, 1)
	y := make([]int, n)
	for i := range n {
		if (x.Data[i*5] > 0) != (x.Data[i*5+1] > 0) {
			y[i] = 1
		}
	}
	return x, y
}

func TestMLPProbeNonlinear(t *testing.T) {
	xtr, ytr := xorSet(1, 2000)
	xte, yte := xorSet(2, 500)
	lin, err := LinearProbe(xtr, ytr, xte, yte, 2, ProbeConfig{Epochs: 10, LR: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	mlp, err := MLPProbe(xtr, ytr, xte, yte, 2, MLPConfig{Epochs: 20, LR: 1e-2, Hidden: 33})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("XOR: linear probe %.3f, MLP probe %.3f (epoch %d)", lin.TestAcc, mlp.TestAcc, mlp.Epochs)
	if lin.TestAcc > 0.65 || mlp.TestAcc < 0.9 {
		t.Errorf("test accuracy: linear %.3f (want near chance), MLP %.3f (want > 0.9)", lin.TestAcc, mlp.TestAcc)
	}
	if mlp.Epochs < 1 || mlp.Epochs > 20 || mlp.ValAcc <= 0 {
		t.Errorf("chosen epoch %d, validation accuracy %v", mlp.Epochs, mlp.ValAcc)
	}
}

func TestMLPProbeErrors(t *testing.T) {
	x := tensor.New(4, 3)
	if _, err := MLPProbe(x, []int{0, 1, 2, 7}, x, []int{0, 1, 0, 1}, 3, MLPConfig{Epochs: 1}); err == nil {
		t.Error("no error for a label out of range")
	}
	if _, err := MLPProbe(x, []int{0, 1, 0, 1}, tensor.New(4, 2), []int{0, 1, 0, 1}, 3, MLPConfig{Epochs: 1}); err == nil {
		t.Error("no error for a feature width mismatch")
	}
}
