package web

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pkgate/pkgate/auth"
)

// TokenForm is the deploy-token create form as posted.
type TokenForm struct {
	Name      string
	ExpiresAt string // YYYY-MM-DD from <input type="date">; a datetime is accepted too
	Username  string
	Scopes    []string
}

// TokenInput is a validated create request, ready for auth.IssueDeployToken.
type TokenInput struct {
	Name      string
	Username  *string // nil: GitLab's default gitlab+deploy-token-{id}
	Scopes    []string
	ExpiresAt *time.Time // nil: never expires
}

// FieldError is one validation message, tied to the form field it is about
// so the page can show it next to the field and link to it from the summary.
type FieldError struct {
	Field   string // "name", "expires_at", "username", "scopes"
	Message string
}

// FormErrors keeps the messages in the order of the form's fields.
type FormErrors []FieldError

// For returns the message about one field ("" if none).
func (e FormErrors) For(field string) string {
	for _, fe := range e {
		if fe.Field == field {
			return fe.Message
		}
	}
	return ""
}

// Validate applies the REST API's rules for deploy tokens plus three that
// only make sense in a form, where a person rather than a script is typing:
// the name may not be blank (the API accepts "", GitLab's own form does
// not), at least one scope must be ticked, and the expiry must lie in the
// future (the API accepts past dates and creates a token that is born
// unusable, which in a form is always a mistake).
//
// A date alone means 00:00 UTC of that day, as in the API, so a token that
// "expires 2030-01-31" stops working when 2030-01-31 begins (UTC); the
// earliest date the form accepts is therefore tomorrow (UTC).
func (f TokenForm) Validate(now time.Time) (TokenInput, FormErrors) {
	var in TokenInput
	var errs FormErrors
	add := func(field, msg string) { errs = append(errs, FieldError{field, msg}) }

	in.Name = strings.TrimSpace(f.Name)
	switch {
	case in.Name == "":
		add("name", "Enter a name for the token.")
	case utf8.RuneCountInString(in.Name) > 255:
		add("name", "Name is too long (maximum is 255 characters).")
	case !utf8.ValidString(in.Name) || strings.ContainsFunc(in.Name, isControl):
		add("name", "Name contains characters that are not allowed.")
	}

	if v := strings.TrimSpace(f.ExpiresAt); v != "" {
		t, ok := auth.ParseExpiry(v)
		switch {
		case !ok:
			add("expires_at", "Enter the expiration date as YYYY-MM-DD.")
		case !t.After(now):
			add("expires_at", "Expiration date must be in the future.")
		default:
			in.ExpiresAt = t
		}
	}

	if u := strings.TrimSpace(f.Username); u != "" {
		switch {
		case len(u) > 255:
			add("username", "Username is too long (maximum is 255 characters).")
		case !auth.ValidDeployUsername(u):
			add("username", "Username can contain only letters, digits, '_', '-', '+', and '.'.")
		default:
			in.Username = &u
		}
	}

	var unknown []string
	for _, s := range f.Scopes {
		if !slices.Contains(auth.DeployScopes, s) {
			unknown = append(unknown, s)
		}
	}
	in.Scopes, _ = auth.NormalizeScopes(f.Scopes, auth.DeployScopes)
	switch {
	case len(unknown) > 0:
		add("scopes", "Unknown scope: "+strings.Join(unknown, ", ")+".")
	case len(in.Scopes) == 0:
		add("scopes", "Select at least one scope.")
	}
	return in, errs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// minExpiryDate is the earliest date the form's date picker offers:
// tomorrow in UTC (see Validate).
func minExpiryDate(now time.Time) string {
	return now.UTC().AddDate(0, 0, 1).Format("2006-01-02")
}

// scopeInfo describes a deploy-token scope in the form.
type scopeInfo struct {
	Name        string
	Description string
	// Effective tells whether the scope grants anything on this gateway;
	// the others are stored and echoed for GitLab compatibility only.
	Effective bool
}

// scopeInfos lists every scope in GitLab's canonical order.
var scopeInfos = []scopeInfo{
	{"read_repository", "Read-only access to the repository (git clone).", false},
	{"read_registry", "Read-only access to container registry images.", false},
	{"write_registry", "Push access to container registry images.", false},
	{"read_package_registry", "Install and download packages (npm, Maven, PyPI, generic).", true},
	{"write_package_registry", "Publish and delete packages; also allows installing and downloading them.", true},
	{"read_virtual_registry", "Read-only access through the dependency proxy (group tokens).", false},
	{"write_virtual_registry", "Write access to the dependency proxy (group tokens).", false},
}
