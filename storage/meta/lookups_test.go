package meta

import (
	"context"
	"testing"
)

func TestCachedLookupInvalidation(t *testing.T) {
	ctx := context.Background()
	type step struct {
		name     string
		before   func(s *Store) // runs before the lookup
		during   func(s *Store) // runs while the lookup queries
		project  int64          // whose lookup runs
		wantCall bool           // the lookup reaches the database
	}
	steps := []step{
		{name: "first lookup of project 1", project: 1, wantCall: true},
		{name: "second lookup is a hit", project: 1},
		{name: "first lookup of project 2", project: 2, wantCall: true},
		{name: "a change in project 2 keeps project 1's entries", before: func(s *Store) { s.InvalidateProjectLookups(2) }, project: 1},
		{name: "and drops project 2's", project: 2, wantCall: true},
		{name: "a change in project 1 drops its entries", before: func(s *Store) { s.InvalidateProjectLookups(1) }, project: 1, wantCall: true},
		{name: "dropping everything", before: func(s *Store) { s.InvalidateLookups() }, project: 2, wantCall: true},
		// A change anywhere while a lookup queries may be the very change
		// its rows predate: the result is answered but not kept.
		{name: "a change during the query", before: func(s *Store) { s.InvalidateProjectLookups(1) }, during: func(s *Store) { s.InvalidateProjectLookups(3) }, project: 1, wantCall: true},
		{name: "left nothing cached", project: 1, wantCall: true},
		{name: "the next lookup is kept again", project: 1},
	}
	s := &Store{}
	for _, st := range steps {
		if st.before != nil {
			st.before(s)
		}
		called := false
		key := "file\x00same-key-in-every-project"
		p, _, err := s.cachedLookup(ctx, st.project, key, func() (*Package, *PackageFile, error) {
			called = true
			if st.during != nil {
				st.during(s)
			}
			return &Package{ProjectID: st.project}, &PackageFile{}, nil
		})
		if err != nil || p.ProjectID != st.project {
			t.Fatalf("%s: got project %d, err %v", st.name, p.ProjectID, err)
		}
		if called != st.wantCall {
			t.Errorf("%s: queried the database: %v, want %v", st.name, called, st.wantCall)
		}
	}
}

// A lookup across projects is a hit only while none of them changed.
func TestCachedSetLookup(t *testing.T) {
	ctx := context.Background()
	many := make([]int64, maxSetLookup+1)
	for i := range many {
		many[i] = int64(100 + i)
	}
	steps := []struct {
		name     string
		before   func(s *Store)
		set      []int64
		wantCall bool
	}{
		{name: "first lookup across 1 and 2", set: []int64{1, 2}, wantCall: true},
		{name: "second is a hit", set: []int64{1, 2}},
		{name: "a change in 3 keeps it", before: func(s *Store) { s.InvalidateProjectLookups(3) }, set: []int64{1, 2}},
		{name: "a change in 2, not the first of the set, drops it", before: func(s *Store) { s.InvalidateProjectLookups(2) }, set: []int64{1, 2}, wantCall: true},
		{name: "kept again", set: []int64{1, 2}},
		{name: "a change in 1 drops it", before: func(s *Store) { s.InvalidateProjectLookups(1) }, set: []int64{1, 2}, wantCall: true},
		{name: "a set past the bound is never kept", set: many, wantCall: true},
		{name: "nor on the second lookup", set: many, wantCall: true},
	}
	s := &Store{}
	for _, st := range steps {
		if st.before != nil {
			st.before(s)
		}
		called := false
		_, f, err := s.cachedSetLookup(ctx, st.set, "set\x00"+setKey(st.set), func() (*Package, *PackageFile, error) {
			called = true
			return nil, &PackageFile{ID: int64(len(st.set))}, nil
		})
		if err != nil || f.ID != int64(len(st.set)) {
			t.Fatalf("%s: got %+v, err %v", st.name, f, err)
		}
		if called != st.wantCall {
			t.Errorf("%s: queried the database: %v, want %v", st.name, called, st.wantCall)
		}
	}
}
