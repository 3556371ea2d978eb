// Package errs is the gateway's single error type. Every layer wraps failures
// with an operation name and a Kind; exactly one function (httpx.Abort) turns
// a Kind into an HTTP status and a GitLab-shaped body, so status codes cannot
// drift between formats.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the client should be told.
type Kind int

const (
	Internal      Kind = iota // 500: details are logged, never sent
	Invalid                   // 400
	Unauthorized              // 401 (with a Basic challenge on package routes)
	Forbidden                 // 403
	NotFound                  // 404
	Conflict                  // 409
	TooLarge                  // 413
	Unprocessable             // 422
	Unavailable               // 503: a backing service is down
	RangeInvalid              // 416
)

// Shape chooses the JSON body family GitLab uses for a given error.
type Shape int

const (
	// ShapeMessage renders {"message": "..."}.
	ShapeMessage Shape = iota
	// ShapeError renders {"error": "..."} (GitLab's parameter validation).
	ShapeError
)

// Error carries an operation name, a kind, a client-facing message and the
// underlying cause (which is logged, not sent).
type Error struct {
	Op    string
	Kind  Kind
	Msg   string // what the client sees; empty means the kind's default text
	Shape Shape
	Err   error
	// Body, when set, is sent as the JSON body instead of the shaped text
	// (GitLab's OAuth-style token errors).
	Body map[string]any
	// Challenge, when set, is the WWW-Authenticate value of a 401,
	// replacing the route's default.
	Challenge string
}

func (e *Error) Error() string {
	s := e.Op
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an Error from its arguments in any order: a string is the op, a
// Kind the kind, a Shape the body family, an error the cause. Use Msg or
// Param for a client-facing text.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch v := a.(type) {
		case string:
			e.Op = v
		case Kind:
			e.Kind = v
		case Shape:
			e.Shape = v
		case error:
			e.Err = v
		case msg:
			e.Msg = string(v)
		}
	}
	// Inherit kind and message from a wrapped *Error when not given.
	var inner *Error
	if e.Err != nil && errors.As(e.Err, &inner) {
		if e.Kind == Internal {
			e.Kind = inner.Kind
		}
		if e.Msg == "" {
			e.Msg = inner.Msg
			e.Shape = inner.Shape
		}
	}
	return e
}

type msg string

// Msg marks a client-facing message for E.
func Msg(format string, a ...any) msg { return msg(fmt.Sprintf(format, a...)) }

// New is shorthand for a message-shaped error of a kind.
func New(op string, k Kind, text string) error {
	return &Error{Op: op, Kind: k, Msg: text}
}

// Param reports a GitLab parameter-validation failure: 400 {"error": "<text>"}.
func Param(op, text string) error {
	return &Error{Op: op, Kind: Invalid, Msg: text, Shape: ShapeError}
}

// KindOf returns the kind of the outermost *Error in err's chain, or
// Internal for foreign errors.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
