package main

import (
	"fmt"
	"net/http"
)

// documents measures the per-format metadata documents. Each format's
// fixture is published through the format's own API; a format whose routes
// are not there yet is reported as not measured.
func documents(g *gw, f *fixture, rep *report) {
	for _, c := range docCases {
		if !want(c.group) {
			continue
		}
		if err := c.run(g, f, rep); err != nil {
			fmt.Printf("  %-52s not measured: %v\n", c.group, err)
		}
	}
}

type docCase struct {
	group string
	run   func(g *gw, f *fixture, rep *report) error
}

// docCases is filled by the format files of this command.
var docCases []docCase

// docRate measures GET req/s of url with the read token at concurrency c.
func docRate(g *gw, f *fixture, url string, c int, hdr map[string]string) (float64, error) {
	return rate(c, func(int) error {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+f.read)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return fetch(req, 200)
	})
}
