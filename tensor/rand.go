package tensor

import (
	"fmt"
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

// IntN returns a uniform integer in [0, n). Like math/rand's, it panics
// when n <= 0; the message names RNG.IntN and n.
func (g *RNG) IntN(n int) int {
	if n <= 0 {
		badN("IntN", n, "must be positive")
	}
	return g.r.IntN(n)
}

// Uint64 returns a uniform 64-bit value.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// Perm returns a random permutation of [0, n) (empty for n = 0). Like
// math/rand's, it panics when n < 0; the message names RNG.Perm and n.
func (g *RNG) Perm(n int) []int {
	if n < 0 {
		badN("Perm", n, "must not be negative")
	}
	return g.r.Perm(n)
}

// badN panics for RNG method fn given the invalid count n; kept out of line
// so that IntN and Perm stay small enough to inline.
func badN(fn string, n int, want string) {
	panic(fmt.Sprintf("tensor: RNG.%s(%d): n %s", fn, n, want))
}

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
// U(-b, b) with b = gain*sqrt(3/fanIn), gain = sqrt(2/(1+a^2)). It panics
// when t has values but fanIn <= 0 (b would be infinite); an empty t is
// left alone.
func (g *RNG) KaimingUniform(t *Tensor, fanIn int, a float64) {
	checkFan("KaimingUniform", t, fanIn)
	gain := math.Sqrt(2 / (1 + a*a))
	b := float32(gain * math.Sqrt(3/float64(fanIn)))
	g.Uniform(t, -b, b)
}

// KaimingNormal fills t from N(0, std^2) with std = sqrt(2/fanIn) (He
// initialisation for ReLU networks). It panics when t has values but
// fanIn <= 0.
func (g *RNG) KaimingNormal(t *Tensor, fanIn int) {
	checkFan("KaimingNormal", t, fanIn)
	g.Normal(t, 0, float32(math.Sqrt(2/float64(fanIn))))
}

// XavierUniform fills t from U(-b, b) with b = sqrt(6/(fanIn+fanOut)). It
// panics when t has values but fanIn+fanOut <= 0.
func (g *RNG) XavierUniform(t *Tensor, fanIn, fanOut int) {
	checkFan("XavierUniform", t, fanIn+fanOut)
	b := float32(math.Sqrt(6 / float64(fanIn+fanOut)))
	g.Uniform(t, -b, b)
}

// XavierNormal fills t from N(0, std^2) with std = sqrt(2/(fanIn+fanOut)).
// It panics when t has values but fanIn+fanOut <= 0.
func (g *RNG) XavierNormal(t *Tensor, fanIn, fanOut int) {
	checkFan("XavierNormal", t, fanIn+fanOut)
	g.Normal(t, 0, float32(math.Sqrt(2/float64(fanIn+fanOut))))
}

// checkFan panics, naming the initialiser, when t has values to fill but
// fan (the fan-in, or fan-in plus fan-out) is not positive: the bound or
// standard deviation would be infinite and every value NaN or infinite.
func checkFan(fn string, t *Tensor, fan int) {
	if fan <= 0 && len(t.Data) > 0 {
		panic(fmt.Sprintf("tensor: RNG.%s: fan %d for %d values of shape %v, want > 0", fn, fan, len(t.Data), append([]int(nil), t.Shape...)))
	}
}
