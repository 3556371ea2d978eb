package main

import (
	"io"
	"strings"
	"testing"
)

// TestCommandLineMistakes: a mistyped command line stops with an error
// naming the mistake before anything is read or deleted. A stray word used
// to be ignored (`gateway gc dry-run` ran a real gc), a negative grace put
// gc's cut-off in the future (cutting every upload in progress), and an
// unknown admin subcommand printed the help on stdout with exit status 0.
func TestCommandLineMistakes(t *testing.T) {
	// Reachable-looking settings, so that only the command line can fail.
	t.Setenv("GATEWAY_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"gc", "dry-run"}, `unknown command "dry-run"`},
		{[]string{"gc", "--grace=-1h"}, "--grace must be >= 0"},
		{[]string{"migrate", "now"}, `unknown command "now"`},
		{[]string{"serve", "8080"}, `unknown command "8080"`},
		{[]string{"admin", "bootstap"}, `unknown command "bootstap"`},
		{[]string{"admin"}, "subcommand is required"},
		{[]string{"admin", "bootstrap", "root"}, `unknown command "root"`},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"serve", "--bogus"}, "unknown flag: --bogus"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd := root()
			cmd.SetArgs(c.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one naming %q", err, c.want)
			}
		})
	}
}
