package pypi

import (
	"bytes"
	"encoding/json"
	"html"
	"net/url"

	"github.com/pkgate/pkgate/storage/meta"
)

// Link is one anchor of a simple index document.
type Link struct {
	Href           string // absolute URL, without fragment
	Text           string
	SHA256         string // file pages only: the #sha256= fragment and PEP 691 hashes
	RequiresPython string
}

// renderHTML writes GitLab's PEP 503 document. Every attribute value and
// text is HTML-escaped (html.EscapeString covers & < > " '), and
// data-requires-python is present even when empty, as GitLab does (pip
// treats empty as no constraint).
func renderHTML(title string, links []Link) []byte {
	var b bytes.Buffer
	b.Grow(256 + len(links)*256)
	t := html.EscapeString(title)
	b.WriteString("<!DOCTYPE html>\n<html>\n  <head><title>Links for ")
	b.WriteString(t)
	b.WriteString("</title></head>\n  <body>\n    <h1>Links for ")
	b.WriteString(t)
	b.WriteString("</h1>\n")
	for _, l := range links {
		href := l.Href
		if l.SHA256 != "" {
			href += "#sha256=" + l.SHA256
		}
		b.WriteString(`    <a href="`)
		b.WriteString(html.EscapeString(href))
		b.WriteString(`" data-requires-python="`)
		b.WriteString(html.EscapeString(l.RequiresPython))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(l.Text))
		b.WriteString("</a>\n")
	}
	b.WriteString("  </body>\n</html>\n")
	return b.Bytes()
}

type jsonMeta struct {
	APIVersion string `json:"api-version"`
}

var apiVersion = jsonMeta{APIVersion: "1.0"}

type jsonIndex struct {
	Meta     jsonMeta   `json:"meta"`
	Projects []jsonName `json:"projects"`
}

type jsonName struct {
	Name string `json:"name"`
}

type jsonProject struct {
	Meta  jsonMeta   `json:"meta"`
	Name  string     `json:"name"`
	Files []jsonFile `json:"files"`
}

type jsonFile struct {
	Filename       string            `json:"filename"`
	URL            string            `json:"url"`
	Hashes         map[string]string `json:"hashes"`
	RequiresPython string            `json:"requires-python,omitempty"`
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // ">=3.7", not "\u003e=3.7"
	_ = enc.Encode(v)        // only plain structs of strings: cannot fail
	return b.Bytes()
}

// renderIndexJSON is PEP 691's root document: sorted unique normalised
// names (entries arrive sorted from the store).
func renderIndexJSON(entries []meta.PyPIIndexEntry) []byte {
	doc := jsonIndex{Meta: apiVersion, Projects: make([]jsonName, 0, len(entries))}
	for _, e := range entries {
		doc.Projects = append(doc.Projects, jsonName{Name: e.Normalized})
	}
	return marshal(doc)
}

// renderProjectJSON is PEP 691's project document. url keeps the
// #sha256= fragment, as GitLab's presenter does; hashes carries the digest
// PEP 691 clients verify.
func renderProjectJSON(name string, links []Link) []byte {
	doc := jsonProject{Meta: apiVersion, Name: name, Files: make([]jsonFile, 0, len(links))}
	for _, l := range links {
		doc.Files = append(doc.Files, jsonFile{
			Filename:       l.Text,
			URL:            l.Href + "#sha256=" + l.SHA256,
			Hashes:         map[string]string{"sha256": l.SHA256},
			RequiresPython: l.RequiresPython,
		})
	}
	return marshal(doc)
}

// fileLink builds the anchor of one file: base is the scope's pypi URL
// (".../projects/42/packages/pypi"), and the last path segment is the
// exact file name, from which pip derives name, version and tags.
func fileLink(base string, f meta.PyPIFileEntry) Link {
	return Link{
		Href:           base + "/files/" + f.SHA256 + "/" + url.PathEscape(f.FileName),
		Text:           f.FileName,
		SHA256:         f.SHA256,
		RequiresPython: f.RequiresPython,
	}
}
