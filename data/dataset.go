package data

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
)

// Dataset is an indexed, labelled or unlabelled image collection. Images are
// uint8, channel-major (CHW), all of the same shape. Implementations are safe
// for concurrent use by several goroutines.
type Dataset interface {
	// Len returns the number of images.
	Len() int
	// Shape returns the shape of one image: channels, height, width, after
	// any fixed crop or resize the reader applies.
	Shape() (c, h, w int)
	// NumClasses returns the number of classes, or 0 for an unlabelled set.
	NumClasses() int
	// Image copies image i, CHW uint8, into dst, which must hold c*h*w bytes.
	Image(i int, dst []uint8) error
	// Label returns the class of image i in [0, NumClasses()), or -1 when
	// the set is unlabelled. i must be in [0, Len()).
	Label(i int) int
}

// Attributed is implemented by data sets with binary attributes per image
// (CelebA's 40 attributes).
type Attributed interface {
	// AttributeNames returns the names of the attributes, in order.
	AttributeNames() []string
	// Attributes returns the attributes of image i, each -1 or 1. The slice
	// is shared: do not modify it.
	Attributes(i int) []int8
}

// Split holds the parts of a data set. Train is always set; Test is nil when
// the data set has no test part (e.g. a flat folder without hold-out); Val
// and Unlabeled are set only by data sets that have them (CelebA's
// validation partition, STL-10's unlabeled_X.bin).
type Split struct {
	Name      string   // the spec that opened it
	Classes   []string // class names when known (len == Train.NumClasses()), else nil
	Train     Dataset
	Test      Dataset
	Val       Dataset
	Unlabeled Dataset
}

// Close closes every part that holds an open file (implements io.Closer).
func (s *Split) Close() error {
	var errs []error
	for _, d := range []Dataset{s.Train, s.Test, s.Val, s.Unlabeled} {
		if c, ok := d.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Memory is a Dataset held in memory: one contiguous uint8 buffer of
// Len()*c*h*w bytes and optional labels.
type Memory struct {
	c, h, w   int
	pix       []uint8
	labels    []int32 // nil when unlabelled
	classes   int
	attrNames []string
	attrs     []int8 // len Len()*len(attrNames), or nil
}

// NewMemory wraps pix (n images of c*h*w bytes, CHW each; not copied) as a
// Dataset. labels is nil for an unlabelled set, else it has one entry per
// image in [0, numClasses).
func NewMemory(c, h, w int, pix []uint8, labels []int, numClasses int) (*Memory, error) {
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("data: invalid image shape %dx%dx%d", c, h, w)
	}
	sz := c * h * w
	if len(pix)%sz != 0 {
		return nil, fmt.Errorf("data: %d bytes is not a whole number of %dx%dx%d images", len(pix), c, h, w)
	}
	m := &Memory{c: c, h: h, w: w, pix: pix}
	n := len(pix) / sz
	if labels != nil {
		if len(labels) != n {
			return nil, fmt.Errorf("data: %d labels for %d images", len(labels), n)
		}
		m.labels = make([]int32, n)
		for i, l := range labels {
			if l < 0 || l >= numClasses {
				return nil, fmt.Errorf("data: label %d of image %d out of range [0,%d)", l, i, numClasses)
			}
			m.labels[i] = int32(l)
		}
		m.classes = numClasses
	}
	return m, nil
}

// Len implements Dataset.
func (m *Memory) Len() int { return len(m.pix) / (m.c * m.h * m.w) }

// Shape implements Dataset.
func (m *Memory) Shape() (c, h, w int) { return m.c, m.h, m.w }

// NumClasses implements Dataset.
func (m *Memory) NumClasses() int { return m.classes }

// Image implements Dataset.
func (m *Memory) Image(i int, dst []uint8) error {
	sz := m.c * m.h * m.w
	if i < 0 || i >= m.Len() {
		return fmt.Errorf("data: image index %d out of range [0,%d)", i, m.Len())
	}
	if len(dst) != sz {
		return fmt.Errorf("data: destination holds %d bytes, image has %d", len(dst), sz)
	}
	copy(dst, m.pix[i*sz:(i+1)*sz])
	return nil
}

// Label implements Dataset.
func (m *Memory) Label(i int) int {
	if m.labels == nil {
		return -1
	}
	return int(m.labels[i])
}

// Pixels returns the underlying buffer (all images, CHW each). It is shared:
// do not modify it.
func (m *Memory) Pixels() []uint8 { return m.pix }

// AttributeNames implements Attributed; it is nil when the set has none.
func (m *Memory) AttributeNames() []string { return m.attrNames }

// Attributes implements Attributed; it is nil when the set has none.
func (m *Memory) Attributes(i int) []int8 {
	if m.attrs == nil {
		return nil
	}
	k := len(m.attrNames)
	return m.attrs[i*k : (i+1)*k : (i+1)*k]
}

// subset is a view of some images of another Dataset.
type subset struct {
	Dataset
	idx []int
}

// Subset returns a view of ds made of the images idx (in that order).
// It panics if ds is nil or an index is out of range.
func Subset(ds Dataset, idx []int) Dataset {
	if ds == nil {
		panic("data: Subset of a nil data set")
	}
	n := ds.Len()
	for _, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("data: Subset index %d out of range [0,%d)", i, n))
		}
	}
	s := &subset{Dataset: ds, idx: slices.Clone(idx)}
	if a, ok := ds.(Attributed); ok {
		return &attrSubset{subset: s, a: a}
	}
	return s
}

func (s *subset) Len() int                       { return len(s.idx) }
func (s *subset) Image(i int, dst []uint8) error { return s.Dataset.Image(s.idx[i], dst) }
func (s *subset) Label(i int) int                { return s.Dataset.Label(s.idx[i]) }

type attrSubset struct {
	*subset
	a Attributed
}

func (s *attrSubset) AttributeNames() []string { return s.a.AttributeNames() }
func (s *attrSubset) Attributes(i int) []int8  { return s.a.Attributes(s.idx[i]) }

// concat joins several data sets of one shape.
type concat struct {
	parts   []Dataset
	starts  []int // starts[k] = index of the first image of parts[k]
	n       int
	classes int
}

// Concat returns the data sets one after the other as one Dataset (for
// example STL-10's unlabeled and train parts for self-supervised training).
// All parts must have the same shape. NumClasses is the largest of the
// parts'; images of unlabelled parts keep label -1. Closing the result
// closes the parts that are io.Closers. No parts, a nil part or parts of
// different shapes are an error.
func Concat(parts ...Dataset) (Dataset, error) {
	if len(parts) == 0 {
		return nil, errors.New("data: Concat of no data sets")
	}
	for k, p := range parts {
		if p == nil {
			return nil, fmt.Errorf("data: Concat: part %d is nil", k)
		}
	}
	c0, h0, w0 := parts[0].Shape()
	cc := &concat{}
	for k, p := range parts {
		if c, h, w := p.Shape(); c != c0 || h != h0 || w != w0 {
			return nil, fmt.Errorf("data: Concat: part %d has shape %dx%dx%d, part 0 has %dx%dx%d", k, c, h, w, c0, h0, w0)
		}
		cc.parts = append(cc.parts, p)
		cc.starts = append(cc.starts, cc.n)
		cc.n += p.Len()
		cc.classes = max(cc.classes, p.NumClasses())
	}
	return cc, nil
}

func (c *concat) locate(i int) (Dataset, int) {
	k, found := slices.BinarySearch(c.starts, i)
	if !found {
		k--
	}
	for k < len(c.parts)-1 && c.parts[k].Len() == 0 { // skip empty parts
		k++
	}
	return c.parts[k], i - c.starts[k]
}

func (c *concat) Len() int               { return c.n }
func (c *concat) Shape() (int, int, int) { return c.parts[0].Shape() }
func (c *concat) NumClasses() int        { return c.classes }
func (c *concat) Image(i int, dst []uint8) error {
	if i < 0 || i >= c.n {
		return fmt.Errorf("data: image index %d out of range [0,%d)", i, c.n)
	}
	p, j := c.locate(i)
	return p.Image(j, dst)
}
func (c *concat) Label(i int) int {
	p, j := c.locate(i)
	return p.Label(j)
}
func (c *concat) Close() error {
	var errs []error
	for _, p := range c.parts {
		if cl, ok := p.(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}

// holdOut splits ds into (train, test) with a deterministic fraction frac of
// the images, chosen by seed, in the test part. Both keep index order.
func holdOut(ds Dataset, frac float64, seed uint64) (Dataset, Dataset) {
	n := ds.Len()
	k := int(float64(n)*frac + 0.5)
	k = min(max(k, 1), n-1)
	perm := rand.New(rand.NewPCG(seed, 0x686f6c646f7574)).Perm(n)
	test := slices.Clone(perm[:k])
	train := slices.Clone(perm[k:])
	slices.Sort(test)
	slices.Sort(train)
	return Subset(ds, train), Subset(ds, test)
}
