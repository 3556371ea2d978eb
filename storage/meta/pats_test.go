package meta

import (
	"reflect"
	"testing"
)

// The token search splits its query as GitLab's fuzzy_search does
// (lib/gitlab/sql/pattern.rb), so the same query finds the same tokens.
func TestSearchTerms(t *testing.T) {
	cases := []struct {
		query, whole string
		terms        []string
	}{
		{"", "", nil},
		{"   ", "", nil},
		{"test", "test", []string{"test"}},
		{"  ci   deploy  ", "ci deploy", []string{"deploy"}},
		{"ci", "ci", nil},
		{`"release bot" api`, `"release bot" api`, []string{"release bot", "api"}},
		{`x "ab" key`, `x "ab" key`, []string{"key"}},
		{`"unclosed phrase`, `"unclosed phrase`, []string{`"unclosed`, "phrase"}},
		{`"a b"c dd"`, `"a b"c dd"`, []string{`b"c`, `dd"`}},
		{"ü_é", "ü_é", []string{"ü_é"}},
	}
	for _, c := range cases {
		terms, whole := searchTerms(c.query, minSearchTerm)
		if whole != c.whole || !reflect.DeepEqual(terms, c.terms) {
			t.Errorf("searchTerms(%q) = %q, %q; want %q, %q", c.query, terms, whole, c.terms, c.whole)
		}
	}
}

// A query without a long enough term matches the whole name exactly
// (case-insensitively); LIKE wildcards in a query are literal.
func TestNameMatch(t *testing.T) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + string(rune('0'+len(args))) }
	cases := []struct {
		query, cond string
		args        []any
	}{
		{"", "", nil},
		{"ci", "name ILIKE $1", []any{"ci"}},
		{"a_", `name ILIKE $1`, []any{`a\_`}},
		{"100% bot", `(name ILIKE $1 AND name ILIKE $2)`, []any{`%100\%%`, "%bot%"}},
	}
	for _, c := range cases {
		args = nil
		if got := nameMatch(c.query, arg); got != c.cond || !reflect.DeepEqual(args, c.args) {
			t.Errorf("nameMatch(%q) = %q %q, want %q %q", c.query, got, args, c.cond, c.args)
		}
	}
}
