package eval_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// twoBlobs returns n points in 3 dimensions around (-1,-1,-1) (class 0)
// and (1,1,1) (class 1).
func twoBlobs(seed uint64, n int) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	x := tensor.New(n, 3)
	rng.Normal(x, 0, 0.5)
	y := make([]int, n)
	for i := range n {
		y[i] = i % 2
		for j := range 3 {
			x.Data[i*3+j] += float32(2*y[i] - 1)
		}
	}
	return x, y
}

// A linear probe and the paper's MLP classifier on frozen features (here
// two well-separated clusters standing in for an encoder's output).
func Example() {
	xtr, ytr := twoBlobs(1, 400)
	xte, yte := twoBlobs(2, 100)
	lin, err := eval.LinearProbe(xtr, ytr, xte, yte, 2, eval.ProbeConfig{Epochs: 20, LR: 1e-2})
	if err != nil {
		panic(err)
	}
	mlp, err := eval.MLPProbe(xtr, ytr, xte, yte, 2, eval.MLPConfig{Epochs: 5, LR: 1e-2})
	if err != nil {
		panic(err)
	}
	fmt.Printf("linear %.1f, mlp %.1f\n", lin.TestAcc, mlp.TestAcc)
	// Output:
	// linear 1.0, mlp 1.0
}

// A report of an SVM on two layers, the second repeated over three seeds,
// and the NDM of Y: built from rows, printed as a table, written to
// eval_svm.json and read back.
func ExampleReport() {
	rep := &eval.Report{Classifier: eval.KindSVM, Data: "mnist", Encoder: "mnist"}
	fc := eval.ProbeResult{TrainAcc: 0.995, ValAcc: 0.981, TestAcc: 0.979, WeightDecay: 1e-4, Epochs: 12, Selected: true}
	rep.Add(fc.Rows("fc", eval.KindSVM, 1024)...)
	var runs [][]eval.Result
	for _, acc := range []float64{0.95, 0.96, 0.97} { // one run per seed
		runs = append(runs, []eval.Result{{Layer: "y", Kind: eval.KindSVM, Metric: eval.MetricTestAcc, Value: acc}})
	}
	y, err := eval.Combine(runs...)
	if err != nil {
		panic(err)
	}
	rep.Add(y...)
	rep.Add(eval.Result{Layer: "y", Kind: eval.KindNDM, Metric: eval.MetricNats, Value: 0.1234})
	if err := rep.WriteTable(os.Stdout); err != nil {
		panic(err)
	}

	dir, err := os.MkdirTemp("", "eval")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, eval.ReportFile(rep.Classifier))
	if err := rep.WriteFile(path); err != nil {
		panic(err)
	}
	back, err := eval.ReadReport(path)
	if err != nil {
		panic(err)
	}
	r, _ := back.Lookup("y", eval.KindSVM, eval.MetricTestAcc)
	fmt.Printf("%s: %.2f +- %.2f over %d runs\n", filepath.Base(path), r.Value, r.Std, len(r.Runs))
	// Output:
	// layer  kind  train acc  val acc  test acc                 nats    settings
	// fc     svm   99.50%     98.10%   97.90%                   -       dims=1024 epochs=12 weight_decay=0.0001
	// y      svm   -          -        96.00% +- 1.00 (3 runs)  -
	// y      ndm   -          -        -                        0.1234
	// eval_svm.json: 0.96 +- 0.01 over 3 runs
}
