package data

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"
)

// LoaderOptions configure a Loader. BatchSize is required; the zero value
// of every other field is a sensible default (no shuffling, no
// augmentation, scaling to [-1, 1]).
type LoaderOptions struct {
	BatchSize int    // images per batch (> 0)
	Seed      uint64 // seeds the order and the augmentation
	Shuffle   bool   // a new random order each epoch (else index order)
	DropLast  bool   // skip the short last batch of each epoch

	// Crop > 0 cuts a Crop x Crop square from each image after padding it
	// with Pad zero (black) pixels on each side: at a random place, or at
	// the center with CenterCrop. Crop 0 keeps the whole image (Pad and
	// CenterCrop are then ignored).
	Crop       int
	Pad        int
	CenterCrop bool
	Flip       bool // mirror each image left-right with probability 1/2

	// Mean and Std normalise each channel: (x/255 - Mean[c]) / Std[c]. Nil
	// means 0.5 and 0.5, which maps pixels to [-1, 1] (x/255*2-1). One value
	// applies to every channel.
	Mean, Std []float32

	Epochs   int      // Next returns io.EOF after this many epochs; 0: never
	Start    Position // where the first batch starts (to resume training)
	Workers  int      // goroutines preparing images; 0: runtime.GOMAXPROCS(0)
	Prefetch int      // batches prepared ahead; 0: 3
}

// Position is a place in the stream of batches: Sample is the index, in
// the order of epoch Epoch, of the next image to be served.
type Position struct {
	Epoch  int
	Sample int
}

// Batch is a batch of images as float32 NCHW with their labels. Its slices
// are reused: a Batch is valid until the next call of Next (or the next
// iteration of Chunks).
type Batch struct {
	X          []float32 // N*C*H*W values
	Labels     []int     // N labels (-1 for unlabelled images)
	Index      []int     // N data-set indices
	N, C, H, W int
	Epoch      int      // epoch of this batch
	Start      int      // position of its first image in the epoch's order
	Last       bool     // the last batch of its epoch
	Next       Position // where the following batch starts: save it to resume
	err        error
}

// transform turns one uint8 CHW image into float32 CHW with crop, flip and
// normalisation.
type transform struct {
	c, h, w    int // source shape
	oh, ow     int // output shape
	crop, pad  int
	center     bool
	flip       bool
	seed       uint64
	lut        [][256]float32 // per channel
	augmenting bool
}

func newTransform(ds Dataset, o LoaderOptions) (*transform, error) {
	c, h, w := ds.Shape()
	t := &transform{c: c, h: h, w: w, oh: h, ow: w, flip: o.Flip, seed: o.Seed}
	if o.Crop < 0 || o.Pad < 0 {
		return nil, fmt.Errorf("data: negative crop %d or padding %d", o.Crop, o.Pad)
	}
	if o.Crop > 0 {
		if o.Crop > h+2*o.Pad || o.Crop > w+2*o.Pad {
			return nil, fmt.Errorf("data: crop %d larger than the %dx%d images padded by %d", o.Crop, h, w, o.Pad)
		}
		t.crop, t.pad, t.center = o.Crop, o.Pad, o.CenterCrop
		t.oh, t.ow = o.Crop, o.Crop
	}
	t.augmenting = t.crop > 0 || t.flip
	mean, std := o.Mean, o.Std
	if mean == nil {
		mean = []float32{0.5}
	}
	if std == nil {
		std = []float32{0.5}
	}
	t.lut = make([][256]float32, c)
	for ch := range c {
		m, s := mean[0], std[0]
		if len(mean) == c {
			m = mean[ch]
		} else if len(mean) != 1 {
			return nil, fmt.Errorf("data: %d means for %d channels", len(mean), c)
		}
		if len(std) == c {
			s = std[ch]
		} else if len(std) != 1 {
			return nil, fmt.Errorf("data: %d standard deviations for %d channels", len(std), c)
		}
		if !(s > 0) {
			return nil, fmt.Errorf("data: standard deviation %v of channel %d not positive", s, ch)
		}
		for v := range 256 {
			t.lut[ch][v] = (float32(v)/255 - m) / s
		}
	}
	return t, nil
}

// apply prepares image idx, the pos-th of epoch's order, into dst (oh*ow*c
// values); src is scratch of c*h*w bytes.
func (t *transform) apply(ds Dataset, idx, epoch, pos int, src []uint8, dst []float32) error {
	if err := ds.Image(idx, src); err != nil {
		return err
	}
	if !t.augmenting {
		for ch := range t.c {
			lut := &t.lut[ch]
			s := src[ch*t.h*t.w : (ch+1)*t.h*t.w]
			d := dst[ch*t.h*t.w : (ch+1)*t.h*t.w]
			for i, v := range s {
				d[i] = lut[v]
			}
		}
		return nil
	}
	// The augmentation of a sample depends only on (seed, epoch, pos).
	var rng rand.PCG
	rng.Seed(t.seed^0x6175676d656e74, uint64(epoch)<<40^uint64(pos))
	y0, x0 := 0, 0 // top-left corner of the crop in padded coordinates
	if t.crop > 0 {
		if t.center {
			y0, x0 = (t.h+2*t.pad-t.crop)/2, (t.w+2*t.pad-t.crop)/2
		} else {
			y0 = int(rng.Uint64() % uint64(t.h+2*t.pad-t.crop+1))
			x0 = int(rng.Uint64() % uint64(t.w+2*t.pad-t.crop+1))
		}
		y0 -= t.pad
		x0 -= t.pad
	}
	flip := t.flip && rng.Uint64()&1 == 1
	for ch := range t.c {
		lut := &t.lut[ch]
		plane := src[ch*t.h*t.w : (ch+1)*t.h*t.w]
		for y := range t.oh {
			d := dst[(ch*t.oh+y)*t.ow : (ch*t.oh+y+1)*t.ow]
			sy := y0 + y
			if sy < 0 || sy >= t.h {
				for x := range d {
					d[x] = lut[0]
				}
				continue
			}
			row := plane[sy*t.w : (sy+1)*t.w]
			for x := range d {
				sx := x0 + x
				if flip {
					sx = x0 + t.ow - 1 - x
				}
				if sx < 0 || sx >= t.w {
					d[x] = lut[0]
				} else {
					d[x] = lut[row[sx]]
				}
			}
		}
	}
	return nil
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("data: loader closed")

// Loader serves shuffled, augmented batches of a Dataset, prepared ahead by
// background goroutines. The batches depend only on the data set, the
// options and the position, not on the number of workers or on timing.
// Next is not safe for concurrent use; Close may be called at any time.
type Loader struct {
	ds    Dataset
	opts  LoaderOptions
	t     *transform
	n     int
	out   chan *Batch
	free  chan *Batch
	tasks chan task
	done  chan struct{}
	wg    sync.WaitGroup
	held  *Batch
	once  sync.Once
	state Position
	ended bool
}

type task struct {
	b      *Batch
	lo, hi int
	wg     *sync.WaitGroup
	errs   []error
	slot   int
}

// NewLoader starts a Loader over ds. Close it to stop its goroutines.
// Errors: a nil or empty ds, a batch size that is not positive or (with
// DropLast) larger than the data set, a negative start position or epoch
// count, and crop or normalisation settings the images do not allow.
func NewLoader(ds Dataset, opts LoaderOptions) (*Loader, error) {
	if ds == nil {
		return nil, errors.New("data: nil data set")
	}
	if opts.BatchSize <= 0 {
		return nil, fmt.Errorf("data: batch size %d not positive", opts.BatchSize)
	}
	n := ds.Len()
	if n == 0 {
		return nil, errors.New("data: empty data set")
	}
	if opts.DropLast && n < opts.BatchSize {
		return nil, fmt.Errorf("data: batch size %d is larger than the %d images of the data set: no full batch (lower the batch size)", opts.BatchSize, n)
	}
	if opts.Start.Epoch < 0 || opts.Start.Sample < 0 || opts.Epochs < 0 {
		return nil, fmt.Errorf("data: negative start position %+v or epoch count %d", opts.Start, opts.Epochs)
	}
	t, err := newTransform(ds, opts)
	if err != nil {
		return nil, err
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	opts.Workers = min(opts.Workers, opts.BatchSize)
	if opts.Prefetch <= 0 {
		opts.Prefetch = 3
	}
	l := &Loader{
		ds: ds, opts: opts, t: t, n: n,
		out:   make(chan *Batch, opts.Prefetch),
		free:  make(chan *Batch, opts.Prefetch+2),
		tasks: make(chan task),
		done:  make(chan struct{}),
	}
	l.state = l.normalize(opts.Start)
	c := t.c
	for range opts.Prefetch + 2 {
		l.free <- &Batch{
			X:      make([]float32, opts.BatchSize*c*t.oh*t.ow),
			Labels: make([]int, opts.BatchSize),
			Index:  make([]int, opts.BatchSize),
			C:      c, H: t.oh, W: t.ow,
		}
	}
	for range opts.Workers {
		l.wg.Go(l.worker)
	}
	l.wg.Go(func() { l.run(l.state) })
	return l, nil
}

// normalize moves a position past the end of its epoch to the next epoch.
func (l *Loader) normalize(p Position) Position {
	if p.Sample >= l.n || (l.opts.DropLast && l.n-p.Sample < l.opts.BatchSize) {
		return Position{Epoch: p.Epoch + 1}
	}
	return p
}

// Order returns the order in which epoch serves the data-set indices: a
// permutation derived from (Seed, epoch) with Shuffle, else 0..Len()-1.
func (l *Loader) Order(epoch int) []int {
	return epochOrder(l.n, l.opts.Shuffle, l.opts.Seed, epoch)
}

func epochOrder(n int, shuffle bool, seed uint64, epoch int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffle {
		r := rand.New(rand.NewPCG(seed, uint64(epoch)^0x7065726d757465))
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// BatchesPerEpoch returns the number of batches in one epoch.
func (l *Loader) BatchesPerEpoch() int {
	if l.opts.DropLast {
		return l.n / l.opts.BatchSize
	}
	return (l.n + l.opts.BatchSize - 1) / l.opts.BatchSize
}

// Shape returns the shape of one image of a batch (after cropping).
func (l *Loader) Shape() (c, h, w int) { return l.t.c, l.t.oh, l.t.ow }

// Position returns where the next batch that Next returns starts.
func (l *Loader) Position() Position { return l.state }

// run is the producing goroutine: it fills free batches in order and sends
// them to out.
func (l *Loader) run(p Position) {
	defer close(l.out)
	defer close(l.tasks)
	orderEpoch, order := -1, []int(nil)
	bs := l.opts.BatchSize
	var wg sync.WaitGroup
	errs := make([]error, l.opts.Workers)
	for l.opts.Epochs == 0 || p.Epoch < l.opts.Epochs {
		var b *Batch
		select {
		case b = <-l.free:
		case <-l.done:
			return
		}
		if p.Epoch != orderEpoch {
			order, orderEpoch = l.Order(p.Epoch), p.Epoch
		}
		end := min(p.Sample+bs, l.n)
		b.N, b.Epoch, b.Start, b.err = end-p.Sample, p.Epoch, p.Sample, nil
		b.Next = l.normalize(Position{p.Epoch, end})
		b.Last = b.Next.Epoch != p.Epoch
		b.X = b.X[:cap(b.X)][:b.N*b.C*b.H*b.W]
		b.Labels, b.Index = b.Labels[:b.N], b.Index[:b.N]
		copy(b.Index, order[p.Sample:end])
		// Split the batch across the workers.
		k := min(l.opts.Workers, b.N)
		wg.Add(k)
		for s := range k {
			l.tasks <- task{b: b, lo: s * b.N / k, hi: (s + 1) * b.N / k, wg: &wg, errs: errs, slot: s}
		}
		wg.Wait()
		b.err = firstError(errs[:k])
		clear(errs)
		select {
		case l.out <- b:
		case <-l.done:
			return
		}
		if b.err != nil {
			return
		}
		p = b.Next
	}
}

func (l *Loader) worker() {
	var src []uint8
	c, h, w := l.ds.Shape()
	src = make([]uint8, c*h*w)
	for tk := range l.tasks {
		b := tk.b
		sz := b.C * b.H * b.W
		for j := tk.lo; j < tk.hi; j++ {
			idx := b.Index[j]
			b.Labels[j] = l.ds.Label(idx)
			if err := l.t.apply(l.ds, idx, b.Epoch, b.Start+j, src, b.X[j*sz:(j+1)*sz]); err != nil {
				tk.errs[tk.slot] = fmt.Errorf("data: image %d: %w", idx, err)
				break
			}
		}
		tk.wg.Done()
	}
}

// Next returns the next batch. It returns io.EOF after the last epoch
// (LoaderOptions.Epochs), ErrClosed after Close, or the error of an image
// that could not be read (after which the loader is finished). The
// returned batch is valid until the next call of Next.
func (l *Loader) Next() (*Batch, error) {
	select {
	case <-l.done:
		return nil, ErrClosed
	default:
	}
	if l.held != nil {
		l.free <- l.held // never blocks: free holds every batch
		l.held = nil
	}
	if l.ended {
		return nil, io.EOF
	}
	b, ok := <-l.out
	if !ok {
		select {
		case <-l.done:
			return nil, ErrClosed
		default:
		}
		l.ended = true
		return nil, io.EOF
	}
	if b.err != nil {
		l.ended = true
		return nil, b.err
	}
	l.held = b
	l.state = b.Next
	return b, nil
}

// Close stops the background goroutines and waits for them to end. It is
// safe to call more than once.
func (l *Loader) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.wg.Wait()
	})
	return nil
}

// Transform is what evaluation does to every image before an encoder sees
// it: an optional centre crop (the evaluation-time counterpart of random
// crops during training, e.g. STL-10's 96 -> 64) and the normalisation of
// LoaderOptions. A run records it so that embedding and evaluation apply
// exactly what training did.
type Transform struct {
	// CenterCrop > 0 cuts the central CenterCrop x CenterCrop square.
	CenterCrop int `json:"center_crop,omitempty"`
	// Mean and Std as in LoaderOptions; nil scales pixels to [-1, 1].
	Mean []float32 `json:"mean,omitempty"`
	Std  []float32 `json:"std,omitempty"`
}

// Chunks iterates over ds in index order, synchronously, in batches of up to
// size images, converted by t (no augmentation). It is meant for feature
// extraction. The yielded batch is reused: it is valid until the next
// iteration. An error stops the iteration after being yielded: a nil ds,
// a size that is not positive, a transform the images do not allow, or
// an image that cannot be read.
func Chunks(ds Dataset, size int, tr Transform) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		if ds == nil {
			yield(nil, errors.New("data: chunks of a nil data set"))
			return
		}
		if size <= 0 {
			yield(nil, fmt.Errorf("data: chunk size %d not positive", size))
			return
		}
		t, err := newTransform(ds, LoaderOptions{Crop: tr.CenterCrop, CenterCrop: true, Mean: tr.Mean, Std: tr.Std})
		if err != nil {
			yield(nil, err)
			return
		}
		n := ds.Len()
		src := make([]uint8, t.c*t.h*t.w)
		sz := t.c * t.oh * t.ow
		b := &Batch{C: t.c, H: t.oh, W: t.ow}
		b.X = make([]float32, min(size, n)*sz)
		b.Labels = make([]int, min(size, n))
		b.Index = make([]int, min(size, n))
		for start := 0; start < n; start += size {
			end := min(start+size, n)
			b.N, b.Start, b.Last = end-start, start, end == n
			b.Next = Position{Sample: end}
			b.X, b.Labels, b.Index = b.X[:b.N*sz], b.Labels[:b.N], b.Index[:b.N]
			for j := range b.N {
				b.Index[j] = start + j
				b.Labels[j] = ds.Label(start + j)
				if err := t.apply(ds, start+j, 0, start+j, src, b.X[j*sz:(j+1)*sz]); err != nil {
					yield(nil, fmt.Errorf("data: image %d: %w", start+j, err))
					return
				}
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}
