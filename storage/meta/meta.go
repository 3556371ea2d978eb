// Package meta is the Postgres metadata store: identity (users, tokens,
// groups, projects, members), deploy tokens, packages, package files and
// blob rows. It is the only package that writes SQL. Races are decided by
// unique constraints and ON CONFLICT, never by select-then-insert, and every
// driver error is translated to an errs.Kind here, in one place.
package meta

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/pkgate/pkgate/internal/errs"
)

// Store wraps the connection pool.
type Store struct {
	db      pool
	touched sync.Map // package id -> time of the last recorded download
	lookups lookups
	changes changes
}

// Open connects (lazily) with a pool sized for a gateway node.
func Open(dsn string) (*Store, error) {
	dsn, err := oneRoundTrip(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{db: pool{DB: db, stmts: &stmtCache{db: db}}, changes: changes{stop: make(chan struct{})}}, nil
}

// oneRoundTrip turns on lib/pq's binary_parameters, whatever the DSN says:
// without it every statement with arguments costs two round trips (prepare,
// then execute), with it one. An upload runs four such statements, so this
// takes four round trips and their Postgres work off every publish. It also
// sends []byte arguments in binary, which suits bytea; jsonb values go
// through JSON, which sends text. The error never repeats the DSN, which
// may hold a password.
func oneRoundTrip(dsn string) (string, error) {
	dsn, err := connDSN(dsn)
	if err != nil {
		return "", err
	}
	return dsn + " binary_parameters=yes", nil
}

// DefaultConnectTimeout bounds opening a connection, the server's answer
// to the start-up message included, unless the DSN (connect_timeout) or
// PGCONNECT_TIMEOUT says otherwise. lib/pq waits forever without one and
// does not watch the context while Postgres answers the handshake: a
// server that accepts connections and says nothing (one stuck in
// recovery, a wrong port on a proxy, a packet filter that lets the SYN
// through) held the gateway's start-up, and every request that needed a
// new connection, for good.
var DefaultConnectTimeout = 10 * time.Second

var connectTimeoutKey = regexp.MustCompile(`(^|\s)connect_timeout\s*=`)

// connDSN is the DSN in lib/pq's key=value form with a connect_timeout.
func connDSN(dsn string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		kv, err := pq.ParseURL(dsn)
		if err != nil {
			return "", errors.New("meta: the database URL is not a valid postgres:// URL")
		}
		dsn = kv
	}
	if secs := int(DefaultConnectTimeout / time.Second); secs > 0 && !connectTimeoutKey.MatchString(dsn) && os.Getenv("PGCONNECT_TIMEOUT") == "" {
		// First, so that nothing the DSN says is overridden.
		dsn = "connect_timeout=" + strconv.Itoa(secs) + " " + dsn
	}
	return dsn, nil
}

// DB exposes the pool (migrations, tests).
func (s *Store) DB() *sqlx.DB { return s.db.DB }

// Close closes the pool.
func (s *Store) Close() error {
	s.changes.closed.Do(func() {
		if s.changes.stop != nil {
			close(s.changes.stop)
		}
	})
	s.db.stmts.close()
	return s.db.Close()
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return wrap("meta.Ping", s.db.GetContext(ctx, &one, "SELECT 1"))
}

// q is what both the pool and a transaction offer.
type q interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// Tx is a metadata transaction handed to callers of Store.Tx.
type Tx struct {
	tx txq
}

// ErrOutcomeUnknown marks a failed write that may nonetheless have been
// committed: the connection broke or the context ended after COMMIT (or
// the one autocommit statement) was sent, so the database may have
// applied it with nobody hearing back. Callers must then keep anything
// the write may name, such as an uploaded object: deleting it could leave
// a committed row naming nothing. An error Postgres itself returned is
// definite (the transaction rolled back) and never carries it.
var ErrOutcomeUnknown = errors.New("meta: the write may have been committed")

// outcome marks err as ErrOutcomeUnknown unless Postgres answered it.
func outcome(err error) error {
	var pe *pq.Error
	if err == nil || errors.As(err, &pe) || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
}

// Tx runs fn in one transaction, committing when it returns nil, with the
// request's pending audit event (see PendingAudit) when it has one. An
// error from fn or before COMMIT is definite (rolled back); one from
// COMMIT that Postgres did not answer is ErrOutcomeUnknown.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return wrap("meta.Tx", err)
	}
	t := &Tx{tx: txq{Tx: tx, stmts: s.db.stmts}}
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return err
	}
	pending, e := pendingAudit(ctx)
	if e != nil {
		if _, err := t.tx.ExecContext(ctx, auditInsert, e.auditArgs()...); err != nil {
			_ = tx.Rollback()
			return wrap("meta.Audit", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap("meta.Tx", outcome(err))
	}
	if pending != nil {
		pending.written.Store(true)
	}
	return nil
}

// txRetry is Tx for work that locks several rows (deletions and edits of
// groups and projects, which take them in one order, see lockOrder in
// edit.go, and could still meet a transaction taking them in another):
// when Postgres breaks a deadlock, or a serialization failure, by
// aborting this one, it runs again, up to three times in all. fn must start from scratch each
// time. Past that the error is errs.Unavailable (503), never a 500.
func (s *Store) txRetry(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.Tx(ctx, fn)
		if attempt == 3 || ctx.Err() != nil || !lockConflict(err) {
			return err
		}
	}
}

// lockConflict says Postgres aborted a transaction to resolve a deadlock
// or a serialization failure: nothing was written, and running it again
// may well succeed.
func lockConflict(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// AdvisoryLock takes a transaction-scoped advisory lock on key, serialising
// rebuilds of per-package documents across every gateway node.
func (t *Tx) AdvisoryLock(ctx context.Context, key string) error {
	_, err := t.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
	return wrap("meta.AdvisoryLock", err)
}

// wrap translates driver errors into error kinds.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errs.E(op, errs.NotFound, err)
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return errs.E(op, errs.Conflict, err)
		case pe.Code == "23503":
			return errs.E(op, errs.NotFound, err)
		case lockConflict(pe):
			// A deadlock or serialization failure that outlived its
			// retries (see txRetry): busy, not broken.
			return errs.E(op, errs.Unavailable, errs.Msg("503 Service Unavailable - database busy, try again"), err)
		case pe.Code.Class() == "08", pe.Code.Class() == "57", pe.Code.Class() == "53":
			// connection exception, operator intervention (shutdown), insufficient resources
			return errs.E(op, errs.Unavailable, errs.Msg("503 Service Unavailable - database unavailable"), err)
		case pe.Code == "22P02", pe.Code == "22003", pe.Code == "22001":
			return errs.E(op, errs.Invalid, err)
		case pe.Code == "22021", pe.Code == "22P05":
			// A NUL byte or invalid UTF-8 in a value (a query filter, a
			// token name): Postgres cannot hold it, so nothing stored can
			// match it. The handlers refuse such input where they know the
			// field; this is the backstop for every other one, so bad
			// input is never a 500.
			return errs.E(op, errs.Invalid, errs.Msg("400 Bad request - invalid byte sequence in a parameter"), err)
		case pe.Code == "54000":
			// program_limit_exceeded: a value too large for an index
			// (about 2.7 KB); every format caps its names, this catches
			// a field that escaped its check.
			return errs.E(op, errs.Invalid, errs.Msg("400 Bad request - value too long"), err)
		}
		return errs.E(op, errs.Internal, err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, net.ErrClosed) {
		return errs.E(op, errs.Unavailable, errs.Msg("503 Service Unavailable - database unavailable"), err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.E(op, errs.Unavailable, errs.Msg("503 Service Unavailable - request timed out"), err)
	}
	return errs.E(op, errs.Internal, fmt.Errorf("%w", err))
}

// IsUniqueViolation reports whether err came from a unique constraint.
func IsUniqueViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}
