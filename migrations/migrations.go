// Package migrations holds the versioned schema, embedded in the binary, and
// applies it with goose.
//
// Migrations run under a Postgres advisory lock (goose's session locker), so
// two gateway processes starting at once serialise instead of racing on DDL,
// and a second run is a no-op because goose records applied versions.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Up applies every pending migration and returns the versions it applied.
func Up(ctx context.Context, db *sql.DB, log *slog.Logger) ([]int64, error) {
	return up(ctx, db, log, 0)
}

// UpTo applies the pending migrations up to and including version, and
// returns the versions it applied: tests use it to hold data as an older
// schema did before a later migration runs.
func UpTo(ctx context.Context, db *sql.DB, version int64) ([]int64, error) {
	return up(ctx, db, nil, version)
}

// up applies pending migrations up to version (0: all).
func up(ctx context.Context, db *sql.DB, log *slog.Logger, version int64) ([]int64, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrations: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var res []*goose.MigrationResult
	if version > 0 {
		res, err = p.UpTo(ctx, version)
	} else {
		res, err = p.Up(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if log != nil {
		warnIfNewer(ctx, p, log)
	}
	var applied []int64
	for _, r := range res {
		if r.Source != nil {
			applied = append(applied, r.Source.Version)
			if log != nil {
				log.Info("migration applied", "version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration)
			}
		}
	}
	return applied, nil
}

// warnIfNewer says so when the database's schema is newer than this
// binary's: a newer release migrated it, and this node runs on (a rolling
// upgrade has old and new nodes on one schema for a while, which each
// migration is written to allow), but an operator who rolled back, or
// left one node behind, should hear it at start-up rather than from an
// odd error later. goose itself applies nothing and says nothing then.
func warnIfNewer(ctx context.Context, p *goose.Provider, log *slog.Logger) {
	srcs := p.ListSources()
	if len(srcs) == 0 {
		return
	}
	known := srcs[len(srcs)-1].Version
	db, err := p.GetDBVersion(ctx)
	if err != nil || db <= known {
		return
	}
	log.Warn("the database schema is newer than this binary's: a newer release migrated it; upgrade this node",
		"database_version", db, "binary_version", known)
}
