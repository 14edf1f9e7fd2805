package data

import (
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
)

// TestNilDatasetIsAnError: the functions that take a Dataset and return
// an error return one for a nil Dataset, naming it.
func TestNilDatasetIsAnError(t *testing.T) {
	ds := seqDataset(t, 4, 1, 2, 2, 2)
	for _, c := range []struct {
		name, want string
		f          func() error
	}{
		{"NewLoader", "nil data set", func() error {
			l, err := NewLoader(nil, LoaderOptions{BatchSize: 2})
			if l != nil {
				l.Close()
			}
			return err
		}},
		{"Chunks", "nil data set", func() error {
			for _, err := range Chunks(nil, 2, Transform{}) {
				return err
			}
			return nil
		}},
		{"ChannelStats", "nil data set", func() error { _, _, err := ChannelStats(nil); return err }},
		{"Concat first", "part 0 is nil", func() error { _, err := Concat(nil, ds); return err }},
		{"Concat second", "part 1 is nil", func() error { _, err := Concat(ds, nil); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.NoPanic(t, c.name, func() {
				if err := c.f(); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%v, want an error containing %q", err, c.want)
				}
			})
		})
	}
	// Subset has no error result: it panics with a message saying why.
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "nil data set") {
				t.Errorf("Subset(nil): recovered %v, want a panic naming the nil data set", r)
			}
		}()
		Subset(nil, []int{0})
	}()
}

// TestBatchLargerThanDataMessage: the DropLast error names the batch size
// and the data set's size in words a caller can act on, not the option.
func TestBatchLargerThanDataMessage(t *testing.T) {
	ds := seqDataset(t, 40, 1, 2, 2, 2)
	_, err := NewLoader(ds, LoaderOptions{BatchSize: 100, DropLast: true})
	wantErr(t, err, "batch size 100 is larger than the 40 images")
	if strings.Contains(err.Error(), "DropLast") {
		t.Errorf("error %q names the internal option", err)
	}
	// Exactly as many images as the batch is fine.
	l, err := NewLoader(ds, LoaderOptions{BatchSize: 40, DropLast: true})
	if err != nil {
		t.Fatalf("batch of all 40 images: %v", err)
	}
	l.Close()
}

// TestOpenRefusesUnusedOptions: a Size on a format whose images have one
// size, and a CropSide on any data set but celeba, are errors naming the
// option (like Coarse and HoldOut); Size 0 is the default everywhere, and
// the formats that resize take a Size (they fail here only for the
// missing directory).
func TestOpenRefusesUnusedOptions(t *testing.T) {
	missing := t.TempDir() + "/missing"
	for _, c := range []struct {
		spec string
		opts Options
		want string // "" : an error that is not about the option
	}{
		{"mnist", Options{Size: 32}, "a size (32) is for folder, tinyimagenet and celeba"},
		{"MNIST:" + missing, Options{Size: 32}, "a size (32)"},
		{"fashion-mnist", Options{Size: 28}, "a size (28)"},
		{"fashionmnist:" + missing, Options{Size: 28}, "a size (28)"},
		{"idx:" + missing, Options{Size: 32}, "a size (32)"},
		{"cifar10:" + missing, Options{Size: 64}, "a size (64)"},
		{"cifar-100:" + missing, Options{Size: 64}, "a size (64)"},
		{"stl10:" + missing, Options{Size: 64}, "a size (64)"},
		{"cifar10:" + missing, Options{CropSide: 20}, "a crop side (20) is for celeba"},
		{"folder:" + missing, Options{CropSide: 20}, "a crop side (20) is for celeba"},
		{"tinyimagenet:" + missing, Options{CropSide: 20}, "a crop side (20)"},
		{"folder:" + missing, Options{Size: 32}, ""},
		{"dir:" + missing, Options{Size: 32}, ""},
		{"tinyimagenet:" + missing, Options{Size: 32}, ""},
		{"celeba:" + missing, Options{Size: 32, CropSide: 100}, ""},
		{"idx:" + missing, Options{}, ""},
	} {
		t.Run(c.spec, func(t *testing.T) {
			s, err := Open(c.spec, c.opts)
			if s != nil {
				s.Close()
			}
			if err == nil {
				t.Fatalf("Open(%q, %+v): no error", c.spec, c.opts)
			}
			about := strings.Contains(err.Error(), "a size (") || strings.Contains(err.Error(), "a crop side (")
			switch {
			case c.want == "" && about:
				t.Errorf("Open(%q, %+v): %v, want only the missing directory refused", c.spec, c.opts, err)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("Open(%q, %+v): %v, want an error containing %q", c.spec, c.opts, err, c.want)
			}
		})
	}
}
