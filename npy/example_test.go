package npy_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/deepinfomax/deepinfomax/npy"
)

func Example() {
	dir, err := os.MkdirTemp("", "npy")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Whole arrays: np.load("labels.npy") gives array([7, 2, 1]).
	labels := filepath.Join(dir, "labels.npy")
	if err := npy.WriteInt64(labels, []int64{7, 2, 1}, 3); err != nil {
		log.Fatal(err)
	}
	l, shape, err := npy.ReadInt64(labels)
	fmt.Println(l, shape, err)

	// Streaming: rows are appended and the row count is patched at Close.
	emb := filepath.Join(dir, "embeddings.npy")
	w, err := npy.NewFloat32Writer(emb, 2)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		if err := w.Write([]float32{float32(i), float32(i) / 2}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	h, err := npy.ReadHeader(emb)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Descr, h.Shape, h.DataOffset)
	e, shape, err := npy.ReadFloat32(emb)
	fmt.Println(e, shape, err)
	// Output:
	// [7 2 1] [3] <nil>
	// <f4 [3 2] 128
	// [0 0 1 0.5 2 1] [3 2] <nil>
}
