package meta

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// maxPrepared bounds the statement cache. The store's queries are fixed
// strings plus a few filter combinations, well under this; anything past it
// runs unprepared, so a query built with a growing shape can never make the
// cache (and every backend's plan memory) grow without end.
const maxPrepared = 512

// stmtCache keeps one prepared statement per query text. Postgres spends
// most of a short query's time parsing and planning it: measured with
// pgbench on the file lookup behind every download (4 clients on this
// 2-core machine), prepared statements gave 12,990 queries per second
// against 3,069 for the unnamed statements lib/pq sends otherwise.
// database/sql prepares a cached statement on each pooled connection the
// first time that connection runs it, and again on a new connection after
// a reconnect, so nothing here tracks connections. Postgres re-plans a
// prepared statement when a migration changes a table under it, but
// refuses it when the change alters a column it returns ("cached plan must
// not change result type"), as a migration run by a newer node during a
// rolling upgrade may: such a statement is dropped from the cache and the
// query run again unprepared (see stale), so the next use prepares it anew.
// Inside a transaction the refusal has aborted the transaction: that one
// fails, and the next one prepares afresh.
//
// Poolers that multiplex sessions (PgBouncer in transaction mode before
// 1.21, or without max_prepared_statements) cannot carry named statements;
// point the gateway at Postgres, or at a pooler that supports them.
type stmtCache struct {
	db     *sqlx.DB
	mu     sync.RWMutex
	m      map[string]*sqlx.Stmt // nil while being prepared
	closed bool
}

// get returns the prepared statement for query. On the first use it
// starts preparing it in the background and answers false: the caller runs
// the query unprepared this once. Preparing never waits, because
// database/sql prepares on a free pooled connection, and a transaction
// waiting for one while holding its own could deadlock a full pool.
func (c *stmtCache) get(query string) (*sqlx.Stmt, bool) {
	c.mu.RLock()
	st, ok := c.m[query]
	c.mu.RUnlock()
	if ok {
		return st, st != nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok || c.closed || len(c.m) >= maxPrepared {
		return st, st != nil
	}
	if c.m == nil {
		c.m = map[string]*sqlx.Stmt{}
	}
	c.m[query] = nil
	go c.prepare(query)
	return nil, false
}

func (c *stmtCache) prepare(query string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.db.PreparexContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		delete(c.m, query) // e.g. the database is down: try again on a later use
	case c.closed:
		_ = st.Close()
	default:
		c.m[query] = st
	}
}

// stale reports whether err is Postgres refusing query's prepared
// statement because a column it returns changed type, and if so drops the
// statement from the cache. The statement is not closed: a request may be
// running it, and its per-connection copies go with their connections.
func (c *stmtCache) stale(query string, err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "0A000" || !strings.Contains(pe.Message, "cached plan") {
		return false
	}
	c.mu.Lock()
	if c.m[query] != nil {
		delete(c.m, query)
	}
	c.mu.Unlock()
	return true
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, st := range c.m {
		if st != nil {
			_ = st.Close()
		}
	}
	c.m = nil
}

// pool is the connection pool with every query run as a cached prepared
// statement; call sites keep sqlx's method names.
type pool struct {
	*sqlx.DB
	stmts *stmtCache
}

func (p pool) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	if st, ok := p.stmts.get(query); ok {
		if err := st.GetContext(ctx, dest, args...); !p.stmts.stale(query, err) {
			return err
		}
	}
	return p.DB.GetContext(ctx, dest, query, args...)
}

func (p pool) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	if st, ok := p.stmts.get(query); ok {
		if err := st.SelectContext(ctx, dest, args...); !p.stmts.stale(query, err) {
			return err
		}
	}
	return p.DB.SelectContext(ctx, dest, query, args...)
}

// scanRow runs a query that returns one row and scans it into dest.
func (p pool) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	if st, ok := p.stmts.get(query); ok {
		if err := st.QueryRowContext(ctx, args...).Scan(dest...); !p.stmts.stale(query, err) {
			return err
		}
	}
	return p.DB.QueryRowContext(ctx, query, args...).Scan(dest...)
}

func (p pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st, ok := p.stmts.get(query); ok {
		res, err := st.ExecContext(ctx, args...)
		if !p.stmts.stale(query, err) {
			return res, err
		}
	}
	return p.DB.ExecContext(ctx, query, args...)
}

// txq is a transaction whose queries use the pool's prepared statements:
// database/sql reuses the statement already prepared on the transaction's
// connection, or prepares it there once for later transactions too.
type txq struct {
	*sqlx.Tx
	stmts *stmtCache
}

func (t txq) stmt(ctx context.Context, query string) (*sqlx.Stmt, bool) {
	st, ok := t.stmts.get(query)
	if !ok {
		return nil, false
	}
	return t.Tx.StmtxContext(ctx, st), true
}

func (t txq) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	if st, ok := t.stmt(ctx, query); ok {
		err := st.GetContext(ctx, dest, args...)
		t.stmts.stale(query, err)
		return err
	}
	return t.Tx.GetContext(ctx, dest, query, args...)
}

func (t txq) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	if st, ok := t.stmt(ctx, query); ok {
		err := st.SelectContext(ctx, dest, args...)
		t.stmts.stale(query, err)
		return err
	}
	return t.Tx.SelectContext(ctx, dest, query, args...)
}

func (t txq) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st, ok := t.stmt(ctx, query); ok {
		res, err := st.ExecContext(ctx, args...)
		t.stmts.stale(query, err)
		return res, err
	}
	return t.Tx.ExecContext(ctx, query, args...)
}
