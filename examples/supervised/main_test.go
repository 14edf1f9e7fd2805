package main

import (
	"os"
	"testing"
)

// TestSupervisedMNIST is the core's end-to-end check: >= 97% on MNIST's 10k
// test images after training on 10k images. It takes a minute or more, so
// it runs only with DIM_LONG_TESTS=1.
func TestSupervisedMNIST(t *testing.T) {
	if os.Getenv("DIM_LONG_TESTS") == "" {
		t.Skip("set DIM_LONG_TESTS=1 to run (about a minute on 2 cores)")
	}
	r, err := Run(Options{Spec: "mnist", Train: 10000, Epochs: 3, Batch: 64, LR: 1e-3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %.2f%% in %.0f s", 100*r.TestAcc, r.Seconds)
	if r.TestAcc < 0.97 {
		t.Errorf("test accuracy %.2f%%, want >= 97%%", 100*r.TestAcc)
	}
}
