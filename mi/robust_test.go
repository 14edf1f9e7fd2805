package mi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/tensor"
)

func TestLossesRejectNilArguments(t *testing.T) {
	tp := autograd.NewTape()
	good := tp.Const(tensor.New(4))
	scores := tp.Const(tensor.New(2, 2))
	empty := &autograd.Var{}
	var nilCache *Cache
	for _, tc := range []struct {
		name string
		f    func() (*autograd.Var, error)
		want string
	}{
		{"Loss nil u", func() (*autograd.Var, error) { return new(Cache).Loss(tp, JSD, nil) }, "scores u is a nil Var"},
		{"Loss u without value", func() (*autograd.Var, error) { return new(Cache).Loss(tp, NCE, empty) }, "scores u is a nil Var or has no value"},
		{"Loss nil tape", func() (*autograd.Var, error) { return new(Cache).Loss(nil, DV, scores) }, "nil tape"},
		{"Loss nil Cache", func() (*autograd.Var, error) { return nilCache.Loss(tp, JSD, scores) }, "nil Cache"},
		{"Discriminator nil p", func() (*autograd.Var, error) { return DiscriminatorLoss(tp, GAN, nil, good) }, "scores p is a nil Var"},
		{"Discriminator nil q", func() (*autograd.Var, error) { return DiscriminatorLoss(tp, DV, good, nil) }, "scores q is a nil Var"},
		{"Discriminator q without value", func() (*autograd.Var, error) { return DiscriminatorLoss(tp, KL, good, empty) }, "scores q"},
		{"Discriminator nil tape", func() (*autograd.Var, error) { return DiscriminatorLoss(nil, GAN, good, good) }, "nil tape"},
		{"Generator nil q", func() (*autograd.Var, error) { return GeneratorLoss(tp, GAN, nil) }, "scores q is a nil Var"},
		{"Generator nil tape", func() (*autograd.Var, error) { return GeneratorLoss(nil, GAN, good) }, "nil tape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.NoPanic(t, tc.name, func() {
				v, err := tc.f()
				if v != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("= %v, %v; want an error with %q", v, err, tc.want)
				}
			})
		})
	}
	if err := tp.Err(); err != nil {
		t.Errorf("refused losses left a tape error: %v", err)
	}
}

func TestNewMasksRejectsNegativeSizes(t *testing.T) {
	for _, nl := range [][2]int{{-1, 3}, {3, -1}} {
		testutil.WantPanic(t, fmt.Sprintf("NewMasks(%d, %d)", nl[0], nl[1]), func() { NewMasks(nl[0], nl[1]) }, "mi.NewMasks", "-1")
	}
	if m := NewMasks(0, 3); m.Pos.Size() != 0 {
		t.Errorf("NewMasks(0, 3) = %v", m.Pos)
	}
}
