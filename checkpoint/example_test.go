package checkpoint_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/tensor"
)

func Example() {
	dir, err := os.MkdirTemp("", "ckpt")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "encoder.safetensors")

	w, _ := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	params := map[string]*tensor.Tensor{"fc.weight": w, "fc.bias": tensor.New(2)}
	if err := checkpoint.Save(path, params, map[string]string{"step": "1200"}); err != nil {
		log.Fatal(err)
	}

	loaded, meta, err := checkpoint.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded["fc.weight"].Shape, loaded["fc.weight"].Data)
	fmt.Println(loaded["fc.bias"].Shape, meta["step"])

	// A crash or error during a write never leaves a half-written file.
	err = checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		return fmt.Errorf("disk full")
	})
	fmt.Println(err != nil)
	_, _, err = checkpoint.Load(path)
	fmt.Println(err)
	// Output:
	// [2 3] [1 2 3 4 5 6]
	// [2] 1200
	// true
	// <nil>
}
