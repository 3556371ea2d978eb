package meta

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestChangePayloads(t *testing.T) {
	many := map[int64]struct{}{}
	var want []string
	for i := int64(1_000_000_000); i < 1_000_000_000+2000; i++ {
		many[i] = struct{}{}
		want = append(want, strconv.FormatInt(i, 10))
	}
	tests := []struct {
		name string
		ids  map[int64]struct{}
		want []string // ids in order, over all payloads
		n    int      // payloads
	}{
		{name: "none", ids: nil, n: 0},
		{name: "one", ids: map[int64]struct{}{7: {}}, want: []string{"7"}, n: 1},
		{name: "sorted", ids: map[int64]struct{}{30: {}, 4: {}, 200: {}}, want: []string{"4", "30", "200"}, n: 1},
		// 2,000 ten-digit ids are 22,000 bytes: three payloads under the limit.
		{name: "split under the limit", ids: many, want: want, n: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := changePayloads(tt.ids)
			if len(got) != tt.n {
				t.Fatalf("%d payloads, want %d", len(got), tt.n)
			}
			var all []string
			for _, p := range got {
				if len(p) > maxPayload {
					t.Fatalf("payload of %d bytes", len(p))
				}
				ids, everything := ParseChanges(p)
				if everything {
					t.Fatalf("payload %q read as everything", p)
				}
				if len(ids) != strings.Count(p, ",")+1 {
					t.Fatalf("payload %q read as %v", p, ids)
				}
				all = append(all, strings.Split(p, ",")...)
			}
			if !slices.Equal(all, tt.want) {
				t.Fatalf("ids %v, want %v", all, tt.want)
			}
		})
	}
}

func TestParseChanges(t *testing.T) {
	tests := []struct {
		payload string
		ids     []int64
		all     bool
	}{
		{payload: "12", ids: []int64{12}},
		{payload: "1,5,7", ids: []int64{1, 5, 7}},
		{payload: "*", all: true},
		{payload: "", all: true},
		{payload: "1,,2", all: true},
		{payload: "1,x", all: true},
	}
	for _, tt := range tests {
		ids, all := ParseChanges(tt.payload)
		if all != tt.all || !slices.Equal(ids, tt.ids) {
			t.Errorf("ParseChanges(%q) = %v, %v; want %v, %v", tt.payload, ids, all, tt.ids, tt.all)
		}
	}
}
