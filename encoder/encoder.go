// Package encoder holds the image encoders of Deep InfoMax and of the
// methods it is compared with, behind one interface: an Encoder maps images
// [N,C,H,W] to named feature taps (the local map scored by local DIM, the
// conv, fc and Y features the paper's classifiers read), is described by a
// JSON Spec that every checkpoint stores, and is built by name from a
// registry. Embed runs a frozen encoder over a data set.
//
// The encoders are those of the reference code (rdevon/DIM,
// cortex_DIM/configs/convnets.py): basic28x28, basic32x32, basic64x64 and
// alex64x64 (ConvNet; mission.md section 5 lists their layers); and, built
// from the reference's layer lists by LayerNet, the ResNets of
// cortex_DIM/configs/resnets.py (resnet19_32x32, resnet34_32x32 and their
// strided-crop versions foldresnet19_32x32, foldresnet34_32x32) and the
// folded STL-10 AlexNet with multiple globals, foldmultialex64x64.
package encoder

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/internal/registry"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// The taps every encoder provides.
const (
	// TapLocal is the local feature map [N,C,H,W] that local DIM scores
	// against Y.
	TapLocal = "local"
	// TapConv is the convolutional feature map [N,C,H,W] the "conv"
	// classifiers read (the last conv layer of the reference encoders).
	TapConv = "conv"
	// TapFC is the last hidden fully connected layer [N,units].
	TapFC = "fc"
	// TapY is the representation Y [N,Out].
	TapY = "y"
)

// Layers are the taps the paper's classifiers evaluate, in table order.
var Layers = []string{TapConv, TapFC, TapY}

// Spec describes an encoder completely: New(spec) rebuilds it (weights
// aside). Checkpoints store it as JSON, so that any run directory's encoder
// can be loaded without knowing which method trained it.
type Spec struct {
	// Name is the registry name, e.g. "basic28x28".
	Name string `json:"name"`
	// Channels and Size are the input images' shape, Channels x Size x
	// Size; New fills them in from the architecture.
	Channels int `json:"channels"`
	Size     int `json:"size"`
	// Out is the number of units of Y (reference: 64): 0 takes the
	// architecture's, at most MaxOut.
	Out int `json:"out"`
	// Transform is what evaluation does to an image before encoding it
	// (centre crop, normalisation): the same as training, without the
	// random augmentation.
	Transform data.Transform `json:"transform"`
	// Options hold architecture-specific settings (none for the reference
	// convnets).
	Options json.RawMessage `json:"options,omitempty"`
}

// Features are the taps of one forward pass. The four standard taps are
// fields; Extra holds any others an encoder exposes.
type Features struct {
	Local, Conv, FC, Y *autograd.Var
	Extra              []Tap
}

// Tap is a named feature of a forward pass.
type Tap struct {
	Name string
	Var  *autograd.Var
}

// Tap returns the named feature, or an error naming the known taps.
func (f Features) Tap(name string) (*autograd.Var, error) {
	switch name {
	case TapLocal:
		return f.Local, nil
	case TapConv:
		return f.Conv, nil
	case TapFC:
		return f.FC, nil
	case TapY:
		return f.Y, nil
	}
	for _, t := range f.Extra {
		if t.Name == name {
			return t.Var, nil
		}
	}
	names := []string{TapLocal, TapConv, TapFC, TapY}
	for _, t := range f.Extra {
		names = append(names, t.Name)
	}
	return nil, fmt.Errorf("encoder: no tap %q (have %s)", name, strings.Join(names, ", "))
}

// Encoder maps images to features. Its parameters and training mode are
// found by walking it as a module tree (nn.StateOf, nn.SetTraining); a
// checkpoint names them "encoder.<name>".
type Encoder interface {
	// Spec returns the complete description of the encoder.
	Spec() Spec
	// Encode runs the encoder on x [N,Channels,Size,Size] (normalised as
	// Spec().Transform says) and returns its taps. Errors are recorded on
	// tp (tp.Err).
	Encode(tp *autograd.Tape, x *autograd.Var) Features
	// Taps lists the encoder's tap names: the four standard ones first.
	Taps() []string
	// TapShape returns the per-sample shape of a tap ([C,H,W] for maps,
	// [units] for vectors), or an error for an unknown tap.
	TapShape(name string) ([]int, error)
}

// Tailer is implemented by encoders that can copy their layers after the
// local tap: global DIM encodes the local map with such a copy, its last
// layer replaced by a linear layer of `units` outputs (the reference's
// global-DIM network).
type Tailer interface {
	Tail(units int, rng *tensor.RNG) nn.Module
}

// MaxOut is the largest Spec.Out (units of Y) New accepts, far above any
// useful width (the reference's is 64): a larger one would only exhaust
// memory. It is the largest width of every layer of an Arch or LayerArch
// too.
const MaxOut = 1 << 16

// Builder makes an encoder from a spec (Name set; other zero fields take
// the architecture's values), initialised from rng.
type Builder func(spec Spec, rng *tensor.RNG) (Encoder, error)

var encoders = registry.New[registered]("encoder")

type registered struct {
	build Builder
	doc   string
}

// Register adds an encoder to the registry under name, with a one-line
// description for help texts. Registering a name twice is an error.
func Register(name, doc string, b Builder) error {
	return encoders.Register(name, registered{build: b, doc: doc})
}

// Names returns the registered encoder names, sorted.
func Names() []string { return encoders.Names() }

// Doc returns the registered description of an encoder ("" if unknown).
func Doc(name string) string {
	r, _ := encoders.Lookup(name)
	return r.doc
}

// New builds the encoder spec names, initialised from rng; a nil rng is
// tensor.NewRNG(0) (the initialisation of seed 0). Errors name the invalid
// field of spec: an unknown Name; Channels or Size that are negative or
// differ from the architecture's; Out negative or above MaxOut; a
// Transform whose Mean and Std differ in length, have neither one value
// nor one per channel, or hold a non-finite mean or a standard deviation
// that is not positive and finite; a negative Transform.CenterCrop.
func New(spec Spec, rng *tensor.RNG) (Encoder, error) {
	r, err := encoders.Lookup(spec.Name)
	if err != nil {
		return nil, err
	}
	if rng == nil {
		rng = tensor.NewRNG(0)
	}
	if len(spec.Transform.Mean) != len(spec.Transform.Std) {
		return nil, fmt.Errorf("encoder %s: %d means but %d standard deviations", spec.Name, len(spec.Transform.Mean), len(spec.Transform.Std))
	}
	for _, s := range spec.Transform.Std {
		if !(s > 0) || math.IsInf(float64(s), 1) {
			return nil, fmt.Errorf("encoder %s: standard deviations must be positive and finite, got %v", spec.Name, spec.Transform.Std)
		}
	}
	for _, m := range spec.Transform.Mean {
		if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
			return nil, fmt.Errorf("encoder %s: means must be finite, got %v", spec.Name, spec.Transform.Mean)
		}
	}
	if spec.Transform.CenterCrop < 0 {
		return nil, fmt.Errorf("encoder %s: negative centre crop %d", spec.Name, spec.Transform.CenterCrop)
	}
	if spec.Out < 0 || spec.Channels < 0 || spec.Size < 0 {
		return nil, fmt.Errorf("encoder %s: negative size in %+v", spec.Name, spec)
	}
	if err := checkOut(spec.Out); err != nil {
		return nil, fmt.Errorf("encoder %s: %w", spec.Name, err)
	}
	e, err := r.build(spec, rng)
	if err != nil {
		return nil, fmt.Errorf("encoder %s: %w", spec.Name, err)
	}
	if c, k := e.Spec().Channels, len(spec.Transform.Mean); k > 1 && k != c {
		return nil, fmt.Errorf("encoder %s: %d means and standard deviations for %d channels", spec.Name, k, c)
	}
	return e, nil
}

// checkOut reports a Spec.Out above MaxOut.
func checkOut(out int) error {
	if out > MaxOut {
		return fmt.Errorf("%d output units (Spec.Out): at most %d", out, MaxOut)
	}
	return nil
}

// CheckInput returns an error unless images of shape c x h x w, after the
// spec's centre crop, are what the encoder takes.
func (s Spec) CheckInput(c, h, w int) error {
	if k := s.Transform.CenterCrop; k > 0 {
		if k > h || k > w {
			return fmt.Errorf("images are %dx%dx%d, smaller than the centre crop %d of encoder %s", c, h, w, k, s.Name)
		}
		h, w = k, k
	}
	if c != s.Channels || h != s.Size || w != s.Size {
		return fmt.Errorf("images are %dx%dx%d but encoder %s takes %dx%dx%d", c, h, w, s.Name, s.Channels, s.Size, s.Size)
	}
	return nil
}

// CheckBatch returns an error unless shape is a batch [N,C,S,S] of at
// least minN images the encoder takes (after the transform).
func (s Spec) CheckBatch(shape []int, minN int) error {
	if len(shape) != 4 || shape[0] < minN || shape[1] != s.Channels || shape[2] != s.Size || shape[3] != s.Size {
		return fmt.Errorf("images of shape %v: encoder %s takes [N,%d,%d,%d] with N >= %d", shape, s.Name, s.Channels, s.Size, s.Size, minN)
	}
	return nil
}
