// Package dim is Deep InfoMax itself (Hjelm et al., ICLR 2019): an encoder
// trained so that its representation Y has high mutual information with
// its input, estimated by networks trained with it. The objective is a sum
// of weighted terms (local DIM, global DIM, prior matching; see Terms),
// each in its own file and registered by name; Model is the method
// (train.Method) that owns the encoder, the terms' networks and the
// optimisers.
package dim

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/train"
)

// Config is everything that defines a DIM model and its training, but the
// encoder (whose encoder.Spec is saved beside it). Its JSON has the common
// settings and each term's weight at the top level, under the term's
// weight name: {"lr":..., "batch":..., "seed":..., "mi_units":...,
// "measure":..., "alpha":..., "beta":..., "gamma":..., ...}.
type Config struct {
	train.Common
	MIUnits int        `json:"mi_units"` // width of the MI networks (paper: 2048)
	Measure mi.Measure `json:"measure"`  // MI estimator
	// Prior is the distribution prior matching pushes Y towards (empty
	// means uniform), and GradPenalty the weight of its discriminator's
	// gradient penalty (reference: 1).
	Prior       Prior   `json:"prior,omitempty"`
	GradPenalty float32 `json:"grad_penalty,omitempty"`
	// Coordinates is the mode of coordinate prediction, CoordAbs (the
	// default) or CoordRel; the term is on when its weight "coord" is.
	Coordinates string `json:"coordinates,omitempty"`
	// Score is the score function, ScoreDot (the default) or ScoreConcat.
	Score string `json:"score,omitempty"`
	// LocalSamples > 0 scores that many locations per image, drawn at
	// random (with replacement, as the reference's local_samples) each
	// step, instead of all. New refuses more samples than the encoder's
	// local map has locations (49 on basic28x28's 7x7 map).
	LocalSamples int `json:"local_samples,omitempty"`
	// Globals names a feature-map tap of the encoder whose locations are
	// local DIM's global vectors instead of Y (the reference's multiple
	// globals); GlobalSamples > 0 draws that many of them per image (at
	// most the tap's locations, as LocalSamples).
	Globals       string `json:"globals,omitempty"`
	GlobalSamples int    `json:"global_samples,omitempty"`
	// Occlude, when set, computes Y from the images with parts hidden
	// (Occlusion), the local features from the full images.
	Occlude *Occlusion `json:"occlude,omitempty"`
	// Weights of the objective's terms by weight name ("alpha": global,
	// "beta": local, "gamma": prior, and any registered term's); a missing
	// or zero weight leaves the term out.
	Weights map[string]float32 `json:"-"`
}

// DefaultConfig returns the reference defaults for local DIM: 2048 MI
// units, beta 1 and no other term (the paper's DIM(L) adds gamma 0.1 with
// the uniform prior and a gradient penalty of 1), JSD, Adam 1e-4, batch 64.
func DefaultConfig() Config {
	return Config{
		Common:  train.Common{LR: 1e-4, Batch: 64, Seed: 0},
		MIUnits: 2048, Measure: mi.JSD, Prior: PriorUniform, GradPenalty: 1,
		Weights: map[string]float32{"beta": 1},
	}
}

// Weight returns the weight of the term with weight name w (0 if unset).
func (c Config) Weight(w string) float32 { return c.Weights[w] }

// SetWeight sets the weight of the term with weight name w, copying the
// map so that copies of a Config stay independent.
func (c *Config) SetWeight(w string, v float32) {
	m := make(map[string]float32, len(c.Weights)+1)
	for k, x := range c.Weights {
		m[k] = x
	}
	m[w] = v
	c.Weights = m
}

// Upper bounds of Config's sizes, far above any useful setting: larger
// values would only overflow allocations.
const (
	MaxMIUnits = 1 << 16 // MIUnits
	MaxSamples = 1 << 16 // LocalSamples, GlobalSamples
)

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if _, err := mi.ParseMeasure(string(c.Measure)); err != nil {
		return err
	}
	if _, err := ParsePrior(string(c.Prior)); err != nil {
		return err
	}
	if err := c.validateScore(); err != nil {
		return err
	}
	if c.GlobalSamples > 0 && c.Globals == "" {
		return fmt.Errorf("global samples (%d) need multiple globals (--globals TAP)", c.GlobalSamples)
	}
	if c.Occlude != nil {
		if err := c.Occlude.check(); err != nil {
			return err
		}
	}
	if c.Coordinates != "" && c.Coordinates != CoordAbs && c.Coordinates != CoordRel {
		return fmt.Errorf("coordinates %q: want abs or rel", c.Coordinates)
	}
	var mutual float32
	for w, v := range c.Weights {
		s, ok := termByWeight(w)
		if !ok {
			return fmt.Errorf("no term has the weight %q", w)
		}
		if !(v >= 0) || math.IsInf(float64(v), 1) {
			return fmt.Errorf("weight %s of the %s term must be non-negative and finite, got %g", w, s.Name, v)
		}
		if s.MI {
			mutual += v
		}
	}
	switch {
	case c.MIUnits < 1 || c.MIUnits > MaxMIUnits:
		return fmt.Errorf("mi-units must be 1 to %d, got %d", MaxMIUnits, c.MIUnits)
	case mutual == 0:
		return fmt.Errorf("no mutual-information term has a positive weight (%s): nothing to maximise", strings.Join(miWeights(), ", "))
	case !(c.GradPenalty >= 0) || math.IsInf(float64(c.GradPenalty), 1):
		return fmt.Errorf("gradient penalty must be non-negative and finite, got %g", c.GradPenalty)
	case c.Batch < 2:
		return fmt.Errorf("batch must be at least 2 (negatives come from other samples), got %d", c.Batch)
	}
	return nil
}

// configJSON is Config without its methods (for encoding/json).
type configJSON Config

// MarshalJSON writes the weights at the top level under their names.
func (c Config) MarshalJSON() ([]byte, error) {
	js, err := json.Marshal(configJSON(c))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	for _, s := range Terms() {
		v, _ := json.Marshal(c.Weights[s.Weight])
		m[s.Weight] = v
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads what MarshalJSON writes (and the configs of runs made
// before terms were plug-ins, which have the same keys).
func (c *Config) UnmarshalJSON(js []byte) error {
	var plain configJSON
	if err := json.Unmarshal(js, &plain); err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		return err
	}
	fields := configKeys()
	// Configs of runs made before encoders had specs named the encoder and
	// its normalisation here (train reads them into the spec).
	fields["arch"], fields["mean"], fields["std"] = true, true, true
	for k := range m {
		if !fields[k] {
			if _, ok := termByWeight(k); !ok {
				return fmt.Errorf("config has %q, neither a setting nor the weight of a registered term (made by a build with more terms?)", k)
			}
		}
	}
	plain.Weights = map[string]float32{}
	for _, s := range Terms() {
		raw, ok := m[s.Weight]
		if !ok {
			continue
		}
		var v float32
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("weight %s: %w", s.Weight, err)
		}
		if v != 0 {
			plain.Weights[s.Weight] = v
		}
	}
	*c = Config(plain)
	return nil
}

// configKeys returns the JSON keys of Config's own fields (those of
// embedded structs included).
func configKeys() map[string]bool {
	keys := map[string]bool{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case f.Anonymous && name == "":
				add(f.Type)
			case name != "" && name != "-":
				keys[name] = true
			}
		}
	}
	add(reflect.TypeOf(configJSON{}))
	return keys
}

// miWeights lists the weight names of the mutual-information terms.
func miWeights() []string {
	var out []string
	for _, t := range Terms() {
		if t.MI {
			out = append(out, "--"+t.Weight)
		}
	}
	return out
}
