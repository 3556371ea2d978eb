package main

import (
	"slices"
	"testing"
)

// The order decides which side meets the machine in which state, so every
// side must start a round as often as the others, and two sides must keep
// the order the two-sided benchmark always had.
func TestAlternateSidesOrder(t *testing.T) {
	tests := []struct {
		sides, rounds int
		want          []int // warm-up runs, then each round's
	}{
		{2, 3, []int{0, 1, 0, 1, 1, 0, 0, 1}},
		{3, 3, []int{0, 1, 2, 0, 1, 2, 1, 2, 0, 2, 0, 1}},
		{3, 1, []int{0, 1, 2, 0, 1, 2}},
	}
	defer func(r int) { *rounds = r }(*rounds)
	for _, tt := range tests {
		*rounds = tt.rounds
		var order []int
		fns := make([]func() (float64, error), tt.sides)
		names := make([]string, tt.sides)
		for i := range fns {
			fns[i] = func() (float64, error) { order = append(order, i); return float64(10 * (i + 1)), nil }
			names[i] = string(rune('a' + i))
		}
		runs, err := alternateSides("case", "x", false, names, fns...)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(order, tt.want) {
			t.Errorf("%d sides, %d rounds: order %v, want %v", tt.sides, tt.rounds, order, tt.want)
		}
		for i, r := range runs {
			if len(r) != tt.rounds {
				t.Errorf("%d sides: side %d has %d counted runs, want %d", tt.sides, i, len(r), tt.rounds)
			}
			for _, v := range r {
				if v != float64(10*(i+1)) {
					t.Errorf("%d sides: side %d recorded %v, another side's value", tt.sides, i, v)
				}
			}
		}
	}
}

// The ratio is the median of the rounds' own ratios, not the ratio of the
// medians: a slow round of one side must not meet a fast round of the other.
func TestPair(t *testing.T) {
	tests := []struct {
		name string
		runs sideRuns
		a, b int
		want compared
	}{
		{"steady", sideRuns{{100, 100, 100}, {80, 80, 80}}, 1, 0, compared{direct: 100, gateway: 80, ratio: 0.8, low: 0.8, high: 0.8}},
		{"drift shared by each pair", sideRuns{{100, 200, 400}, {90, 160, 200}}, 1, 0, compared{direct: 200, gateway: 160, ratio: 0.8, low: 0.5, high: 0.9}},
		// The medians' ratio would be 150/200 = 0.75.
		{"paired, not pooled", sideRuns{{100, 300, 200}, {95, 150, 190}}, 1, 0, compared{direct: 200, gateway: 150, ratio: 0.95, low: 0.5, high: 0.95}},
		{"third side over the second", sideRuns{{10, 10, 10}, {8, 9, 7}, {9, 9, 10}}, 1, 2, compared{direct: 9, gateway: 8, ratio: 8.0 / 9, low: 0.7, high: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.runs.pair(tt.a, tt.b)
			const eps = 1e-9
			for _, f := range []struct {
				what      string
				got, want float64
			}{{"direct", got.direct, tt.want.direct}, {"gateway", got.gateway, tt.want.gateway}, {"ratio", got.ratio, tt.want.ratio}, {"low", got.low, tt.want.low}, {"high", got.high, tt.want.high}} {
				if d := f.got - f.want; d > eps || d < -eps {
					t.Errorf("%s = %v, want %v", f.what, f.got, f.want)
				}
			}
		})
	}
}
