package tensor

import (
	"math"
	"math/rand/v2"
)

// RNG is a seedable pseudo-random source for initialisers, dropout masks and
// data shuffling. It is deterministic for a given seed and not safe for
// concurrent use.
type RNG struct {
	r   *rand.Rand
	src *rand.PCG
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &RNG{r: rand.New(src), src: src}
}

// Seed resets the generator to the state NewRNG(seed) starts from, without
// allocating.
func (g *RNG) Seed(seed uint64) { g.src.Seed(seed, seed^0x9e3779b97f4a7c15) }

// Float32 returns a uniform value in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// Float64 returns a uniform value in [0, 1).
func (g *RNG) Float64() float64 { return g.r.Float64() }

// NormFloat64 returns a standard normal value.
func (g *RNG) NormFloat64() float64 { return g.r.NormFloat64() }

// IntN returns a uniform integer in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Uint64 returns a uniform 64-bit value.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// Perm returns a random permutation of [0, n).
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }

// Uniform fills t with values drawn uniformly from [lo, hi).
func (g *RNG) Uniform(t *Tensor, lo, hi float32) {
	for i := range t.Data {
		t.Data[i] = lo + (hi-lo)*g.r.Float32()
	}
}

// Normal fills t with values drawn from N(mean, std^2).
func (g *RNG) Normal(t *Tensor, mean, std float32) {
	for i := range t.Data {
		t.Data[i] = mean + std*float32(g.r.NormFloat64())
	}
}

// Fans returns the fan-in and fan-out of a weight tensor laid out as
// [out, in, k...] (Linear and Conv2d weights); for ConvTranspose2d weights
// ([in, out, k...]) the two are swapped by the caller.
func Fans(shape []int) (fanIn, fanOut int) {
	switch len(shape) {
	case 0:
		return 1, 1
	case 1:
		return shape[0], shape[0]
	}
	rf := SizeOf(shape[2:])
	return shape[1] * rf, shape[0] * rf
}

// KaimingUniform fills t as PyTorch's kaiming_uniform_ with negative slope
// a (a = sqrt(5) gives nn.Linear / nn.Conv2d's default initialisation):
// U(-b, b) with b = gain*sqrt(3/fanIn), gain = sqrt(2/(1+a^2)).
func (g *RNG) KaimingUniform(t *Tensor, fanIn int, a float64) {
	gain := math.Sqrt(2 / (1 + a*a))
	b := float32(gain * math.Sqrt(3/float64(fanIn)))
	g.Uniform(t, -b, b)
}

// KaimingNormal fills t from N(0, std^2) with std = sqrt(2/fanIn) (He
// initialisation for ReLU networks).
func (g *RNG) KaimingNormal(t *Tensor, fanIn int) {
	g.Normal(t, 0, float32(math.Sqrt(2/float64(fanIn))))
}

// XavierUniform fills t from U(-b, b) with b = sqrt(6/(fanIn+fanOut)).
func (g *RNG) XavierUniform(t *Tensor, fanIn, fanOut int) {
	b := float32(math.Sqrt(6 / float64(fanIn+fanOut)))
	g.Uniform(t, -b, b)
}

// XavierNormal fills t from N(0, std^2) with std = sqrt(2/(fanIn+fanOut)).
func (g *RNG) XavierNormal(t *Tensor, fanIn, fanOut int) {
	g.Normal(t, 0, float32(math.Sqrt(2/float64(fanIn+fanOut))))
}
