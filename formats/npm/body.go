package npm

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/pkgate/pkgate/internal/errs"
)

// PublishDoc is what ParsePublish keeps of a publish document: everything
// except attachment data, which is streamed to the caller instead.
type PublishDoc struct {
	ID       string
	Name     string
	HasName  bool
	DistTags map[string]string
	// HasVersions reports whether a "versions" key was present at all
	// (GitLab distinguishes "versions is missing" from "Version is empty.").
	HasVersions bool
	Versions    []VersionDoc // in body order
	// Tarball is the attachment whose data was handed to the DataFunc.
	Tarball *AttachmentDoc
	// Skipped lists other attachments (npm's provenance ".sigstore" bundle),
	// whose data was read and dropped.
	Skipped []string
}

// VersionDoc is one entry of "versions".
type VersionDoc struct {
	Version  string
	Manifest json.RawMessage // always a JSON object
}

// AttachmentDoc describes the tarball attachment.
type AttachmentDoc struct {
	FileName    string
	ContentType string
	Length      int64 // the "length" the client declared; -1 when absent
	Size        int64 // decoded bytes actually delivered
}

// ParseLimits bound a publish body. Zero means unlimited.
type ParseLimits struct {
	// MaxBody bounds every byte read from the body.
	MaxBody int64
	// MaxMeta bounds the bytes outside attachment data (the manifest,
	// readme, dist-tags...), the only part ever held in memory. The count
	// may include up to one decoder buffer of attachment bytes read ahead.
	MaxMeta int64
	// MaxAttachments bounds the number of attachments (default 16).
	MaxAttachments int
}

// DataFunc receives the decoded bytes of the tarball attachment (the one
// whose key ends in ".tgz") as they arrive. doc holds what was parsed
// before the attachment: with npm's key order that is the name, the
// version and its manifest, so the callee can refuse a duplicate before
// storing anything. The callee should read data to EOF; whatever it leaves
// is drained. Its error ends the parse and is returned unchanged.
type DataFunc func(doc *PublishDoc, fileName string, data io.Reader) error

// Errors a caller may want to tell apart.
var (
	// ErrMetaTooLarge: the non-attachment part exceeded MaxMeta.
	ErrMetaTooLarge = &errs.Error{Op: "npm.ParsePublish", Kind: errs.TooLarge, Msg: "413 Request Entity Too Large - package metadata is too large"}
	// ErrBodyTooLarge: the body exceeded MaxBody.
	ErrBodyTooLarge = &errs.Error{Op: "npm.ParsePublish", Kind: errs.TooLarge, Msg: "413 Request Entity Too Large - File is too large."}
	// ErrEmptyAttachment is GitLab's answer to an empty tarball.
	ErrEmptyAttachment = &errs.Error{Op: "npm.ParsePublish", Kind: errs.Invalid, Msg: "Attachment data is empty."}
)

func bad(format string, a ...any) error {
	return errs.E("npm.ParsePublish", errs.Invalid, errs.Msg("400 Bad request - "+format, a...))
}

// ParsePublish reads a publish document token by token (encoding/json's
// Decoder.Token) and never holds attachment data in memory: when it reaches
// `_attachments.<file>.data` it reads the JSON string itself and pipes it
// through base64.NewDecoder into onData, then resumes token decoding after
// the closing quote. Peak memory is the metadata plus a few small buffers,
// whatever the tarball size (Gitea decodes the whole document, tarball
// included, into one struct; this is the fix for that).
//
// The document must be one JSON object; duplicate top-level keys, more
// than one tarball attachment, malformed JSON or base64, and anything after
// the object are refused (400). Size limits answer 413.
func ParsePublish(r io.Reader, lim ParseLimits, onData DataFunc) (*PublishDoc, error) {
	if lim.MaxAttachments <= 0 {
		lim.MaxAttachments = 16
	}
	p := &parser{m: &meter{r: r, lim: lim}, doc: &PublishDoc{}, onData: onData, lim: lim}
	p.dec = p.newDecoder(p.m)
	if err := p.document(); err != nil {
		return nil, err
	}
	return p.doc, nil
}

// meter counts body bytes and enforces the limits at the source, so an
// oversized body fails while streaming even without a Content-Length.
type meter struct {
	r           io.Reader
	lim         ParseLimits
	total, meta int64
	inData      bool
	err         error
}

func (m *meter) Read(b []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.r.Read(b)
	m.total += int64(n)
	if !m.inData {
		m.meta += int64(n)
	}
	switch {
	case m.lim.MaxBody > 0 && m.total > m.lim.MaxBody:
		m.err = ErrBodyTooLarge
		return 0, m.err
	case m.lim.MaxMeta > 0 && m.meta > m.lim.MaxMeta:
		m.err = ErrMetaTooLarge
		return 0, m.err
	}
	if err != nil && err != io.EOF {
		// A broken upload (client gone, bad chunked encoding) is the
		// client's problem: 400, never 500.
		m.err = errs.E("npm.ParsePublish", errs.Invalid, errs.Msg("400 Bad request - upload body could not be read"), err)
		return n, m.err
	}
	return n, err
}

type parser struct {
	m           *meter
	dec         *json.Decoder
	doc         *PublishDoc
	onData      DataFunc
	lim         ParseLimits
	attachments int
}

func (p *parser) newDecoder(r io.Reader) *json.Decoder {
	d := json.NewDecoder(r)
	d.UseNumber()
	return d
}

// fail turns a decoder error into the client-facing one.
func (p *parser) fail(err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return bad("malformed JSON: unexpected end of the document")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return bad("malformed JSON: %s", se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return bad("malformed JSON: %s", te.Error())
	}
	return bad("malformed JSON: %s", err.Error())
}

func (p *parser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil {
		return nil, p.fail(err)
	}
	return t, nil
}

func (p *parser) delim(want json.Delim, what string) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		if want == '{' {
			return bad("%s must be a JSON object", what)
		}
		return bad("malformed JSON in %s", what)
	}
	return nil
}

func (p *parser) key() (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	k, ok := t.(string)
	if !ok {
		return "", bad("malformed JSON: expected an object key")
	}
	return k, nil
}

func (p *parser) str(what string) (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		if t == nil {
			return "", nil // JSON null: treated as absent
		}
		return "", bad("%s must be a string", what)
	}
	return s, nil
}

// skip consumes one value of any kind.
func (p *parser) skip() error {
	var raw json.RawMessage
	if err := p.dec.Decode(&raw); err != nil {
		return p.fail(err)
	}
	return nil
}

func (p *parser) document() error {
	if err := p.delim('{', "the publish body"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for p.dec.More() {
		k, err := p.key()
		if err != nil {
			return err
		}
		if seen[k] {
			return bad("duplicate key %q", k)
		}
		seen[k] = true
		switch k {
		case "name":
			if p.doc.Name, err = p.str("name"); err != nil {
				return err
			}
			p.doc.HasName = p.doc.Name != ""
		case "_id":
			if p.doc.ID, err = p.str("_id"); err != nil {
				return err
			}
		case "dist-tags":
			err = p.distTags()
		case "versions":
			err = p.versions()
		case "_attachments":
			err = p.attachmentsObj()
		default:
			err = p.skip()
		}
		if err != nil {
			return err
		}
	}
	if err := p.delim('}', "the publish body"); err != nil {
		return err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		if err != nil {
			return p.fail(err)
		}
		return bad("malformed JSON: unexpected data after the document")
	}
	return nil
}

func (p *parser) distTags() error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return bad("dist-tags must be a JSON object")
	}
	p.doc.DistTags = map[string]string{}
	for p.dec.More() {
		tag, err := p.key()
		if err != nil {
			return err
		}
		v, err := p.str("dist-tags." + tag)
		if err != nil {
			return err
		}
		p.doc.DistTags[tag] = v
	}
	return p.delim('}', "dist-tags")
}

func (p *parser) versions() error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil // null: as if missing
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return errs.Param("npm.ParsePublish", "versions is invalid")
	}
	p.doc.HasVersions = true
	for p.dec.More() {
		v, err := p.key()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := p.dec.Decode(&raw); err != nil {
			return p.fail(err)
		}
		if len(raw) == 0 || raw[0] != '{' {
			return bad("versions[%q] must be a JSON object", v)
		}
		p.doc.Versions = append(p.doc.Versions, VersionDoc{Version: v, Manifest: raw})
	}
	return p.delim('}', "versions")
}

func (p *parser) attachmentsObj() error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return bad("_attachments must be a JSON object")
	}
	for p.dec.More() {
		file, err := p.key()
		if err != nil {
			return err
		}
		p.attachments++
		if p.attachments > p.lim.MaxAttachments {
			return bad("too many attachments (at most %d)", p.lim.MaxAttachments)
		}
		if err := p.attachment(file); err != nil {
			return err
		}
	}
	return p.delim('}', "_attachments")
}

func (p *parser) attachment(file string) error {
	if err := p.delim('{', fmt.Sprintf("_attachments[%q]", file)); err != nil {
		return err
	}
	tarball := strings.HasSuffix(file, ".tgz")
	var a *AttachmentDoc
	if tarball {
		if p.doc.Tarball != nil {
			return bad("only one tarball attachment is allowed per publish")
		}
		a = &AttachmentDoc{FileName: file, Length: -1}
		p.doc.Tarball = a
	} else {
		p.doc.Skipped = append(p.doc.Skipped, file)
	}
	sawData := false
	for p.dec.More() {
		k, err := p.key()
		if err != nil {
			return err
		}
		switch {
		case k == "data":
			if sawData {
				return bad("duplicate key \"data\" in attachment %q", file)
			}
			sawData = true
			if err := p.streamData(file, a); err != nil {
				return err
			}
		case k == "length" && a != nil:
			t, err := p.token()
			if err != nil {
				return err
			}
			n, ok := t.(json.Number)
			if !ok {
				if t == nil {
					continue
				}
				return bad("_attachments[%q].length must be a number", file)
			}
			l, err := n.Int64()
			if err != nil || l < 0 {
				return bad("_attachments[%q].length must be a non-negative integer", file)
			}
			a.Length = l
		case k == "content_type" && a != nil:
			if a.ContentType, err = p.str("content_type"); err != nil {
				return err
			}
		default:
			if err := p.skip(); err != nil {
				return err
			}
		}
	}
	if tarball && !sawData {
		return ErrEmptyAttachment
	}
	return p.delim('}', fmt.Sprintf("_attachments[%q]", file))
}

// resumePrefix rebuilds the decoder's structural state after attachment
// data: the document object, "_attachments", the attachment object, and a
// completed "data" value. A fresh Decoder fed this prefix and then the rest
// of the body is exactly where the old one would have been.
const resumePrefix = `{"":{"":{"":""`

// streamData handles `"data": "<base64>"` after the decoder returned the
// "data" key: the colon and the string are read here, byte-level, from
// what the decoder had buffered followed by the rest of the body.
func (p *parser) streamData(file string, a *AttachmentDoc) error {
	br := bufio.NewReaderSize(io.MultiReader(p.dec.Buffered(), p.m), 64<<10)
	p.m.inData = true
	if err := expectByte(br, ':'); err != nil {
		return p.fail(err)
	}
	c, err := nextNonSpace(br)
	if err != nil {
		return p.fail(err)
	}
	if c != '"' {
		if a == nil {
			// Not a tarball: put the byte back and let the decoder skip it.
			if err := br.UnreadByte(); err != nil {
				return p.fail(err)
			}
			return p.resumeWith(br, `{"":{"":{"":`)
		}
		return bad("_attachments[%q].data must be a base64 string", file)
	}
	sr := &jsonString{br: br}
	if a == nil {
		if _, err := io.Copy(io.Discard, sr); err != nil {
			return p.fail(err)
		}
	} else {
		if b, err := br.Peek(1); err == nil && b[0] == '"' {
			return ErrEmptyAttachment
		}
		cr := &dataReader{r: base64.NewDecoder(base64.StdEncoding, sr)}
		if err := p.onData(p.doc, file, cr); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return err
		}
		if !sr.done {
			return bad("_attachments[%q].data is not valid base64", file)
		}
		a.Size = cr.n
	}
	p.m.inData = false
	return p.resumeWith(br, resumePrefix)
}

// resumeWith builds a new decoder over prefix + what br still buffers + the
// rest of the body, and replays the prefix's tokens.
func (p *parser) resumeWith(br *bufio.Reader, prefix string) error {
	rest, _ := br.Peek(br.Buffered())
	restCopy := bytes.Clone(rest)
	p.dec = p.newDecoder(io.MultiReader(strings.NewReader(prefix), bytes.NewReader(restCopy), p.m))
	// Replay: { "" { "" { "" [""]
	n := 6
	if prefix == resumePrefix {
		n = 7
	}
	for i := 0; i < n; i++ {
		if _, err := p.dec.Token(); err != nil {
			return p.fail(err)
		}
	}
	if prefix != resumePrefix {
		// The attachment value itself (not a string) is next: skip it.
		return p.skip()
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func nextNonSpace(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if !isSpace(c) {
			return c, nil
		}
	}
}

func expectByte(br *bufio.Reader, want byte) error {
	c, err := nextNonSpace(br)
	if err != nil {
		return err
	}
	if c != want {
		return bad("malformed JSON: expected %q after an object key", want)
	}
	return nil
}

// dataReader counts decoded bytes and turns base64 errors into 400s that
// pass through the registry's Ingest unchanged.
type dataReader struct {
	r   io.Reader
	n   int64
	err error
}

func (d *dataReader) Read(b []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(b)
	d.n += int64(n)
	if err != nil && err != io.EOF {
		var e *errs.Error
		if !errors.As(err, &e) {
			err = bad("attachment data is not valid base64")
		}
		d.err = err
	}
	return n, err
}

// jsonString reads the body of a JSON string (after the opening quote),
// unescaping as it goes, and returns io.EOF at the closing quote. Only
// escapes change bytes; base64 never needs them, but JSON allows "\/".
type jsonString struct {
	br   *bufio.Reader
	done bool
	pend []byte
}

var errUnterminated = errors.New("unterminated string")

func (s *jsonString) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if len(s.pend) > 0 {
			k := copy(b[n:], s.pend)
			s.pend = s.pend[k:]
			n += k
			continue
		}
		if s.done {
			break
		}
		if n > 0 && s.br.Buffered() == 0 {
			break // return what we have rather than block
		}
		if _, err := s.br.Peek(1); err != nil {
			if err == io.EOF {
				err = bad("malformed JSON: unexpected end of the document")
			}
			if n > 0 {
				break
			}
			return 0, err
		}
		chunk, _ := s.br.Peek(s.br.Buffered())
		i := 0
		for i < len(chunk) && i < len(b)-n {
			c := chunk[i]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			i++
		}
		if i > 0 {
			copy(b[n:], chunk[:i])
			s.br.Discard(i)
			n += i
			continue
		}
		if n == len(b) {
			break
		}
		switch c := chunk[0]; {
		case c == '"':
			s.br.Discard(1)
			s.done = true
		case c == '\\':
			if err := s.escape(); err != nil {
				return n, err
			}
		default:
			return n, bad("malformed JSON: control character in a string")
		}
	}
	if n == 0 && s.done {
		return 0, io.EOF
	}
	return n, nil
}

func (s *jsonString) escape() error {
	head, err := s.br.Peek(2)
	if err != nil {
		return bad("malformed JSON: unexpected end of the document")
	}
	switch head[1] {
	case '"', '\\', '/':
		s.pend = append(s.pend[:0], head[1])
	case 'b':
		s.pend = append(s.pend[:0], '\b')
	case 'f':
		s.pend = append(s.pend[:0], '\f')
	case 'n':
		s.pend = append(s.pend[:0], '\n')
	case 'r':
		s.pend = append(s.pend[:0], '\r')
	case 't':
		s.pend = append(s.pend[:0], '\t')
	case 'u':
		u, err := s.br.Peek(6)
		if err != nil {
			return bad("malformed JSON: unexpected end of the document")
		}
		var r rune
		for _, h := range u[2:] {
			var v byte
			switch {
			case h >= '0' && h <= '9':
				v = h - '0'
			case h >= 'a' && h <= 'f':
				v = h - 'a' + 10
			case h >= 'A' && h <= 'F':
				v = h - 'A' + 10
			default:
				return bad("malformed JSON: invalid \\u escape")
			}
			r = r<<4 | rune(v)
		}
		s.pend = utf8.AppendRune(s.pend[:0], r)
		s.br.Discard(6)
		return nil
	default:
		return bad("malformed JSON: invalid escape in a string")
	}
	s.br.Discard(2)
	return nil
}
