package data_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepinfomax/deepinfomax/data"
)

// writeIDX writes an IDX file of unsigned bytes.
func writeIDX(path string, dims []int, values []byte) {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(values)
	os.WriteFile(path, b.Bytes(), 0o644)
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "idx")
	defer os.RemoveAll(dir)
	// Four 2x2 images with labels 0, 1, 1, 2.
	writeIDX(filepath.Join(dir, "train-images-idx3-ubyte"), []int{4, 2, 2}, []byte{
		0, 0, 0, 0, 255, 255, 255, 255, 0, 255, 0, 255, 51, 102, 153, 204})
	writeIDX(filepath.Join(dir, "train-labels-idx1-ubyte"), []int{4}, []byte{0, 1, 1, 2})

	split, err := data.Open("idx:"+dir, data.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer split.Close()
	c, h, w := split.Train.Shape()
	fmt.Printf("%d images of %dx%dx%d, %d classes, test split: %v\n",
		split.Train.Len(), c, h, w, split.Train.NumClasses(), split.Test != nil)

	loader, err := data.NewLoader(split.Train, data.LoaderOptions{BatchSize: 3, Seed: 1, Shuffle: true, Epochs: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loader.Close()
	for {
		b, err := loader.Next()
		if err != nil {
			break // io.EOF after one epoch
		}
		fmt.Printf("epoch %d: %d images, X has %d values, last of epoch: %v\n", b.Epoch, b.N, len(b.X), b.Last)
	}

	for b, err := range data.Chunks(split.Train, 4, data.Transform{}) {
		if err != nil {
			break
		}
		fmt.Printf("image 3 scaled to [-1,1]: %.1f\n", b.X[3*4:4*4])
	}
	// Output:
	// 4 images of 1x2x2, 3 classes, test split: false
	// epoch 0: 3 images, X has 12 values, last of epoch: false
	// epoch 0: 1 images, X has 4 values, last of epoch: true
	// image 3 scaled to [-1,1]: [-0.6 -0.2 0.2 0.6]
}
