// Command gateway is the package registry gateway: `serve` runs the HTTP
// server, `migrate` applies the schema, `admin bootstrap` prints a first
// admin token for scripts.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/migrations"
	"github.com/pkgate/pkgate/storage/janitor"
	"github.com/pkgate/pkgate/storage/meta"
)

func main() {
	if err := root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func root() *cobra.Command {
	var cfg gateway.Config
	var loadErr error
	cmd := &cobra.Command{
		Use:           "gateway",
		Short:         "GitLab-compatible package registry gateway (npm, Maven, PyPI, generic)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cfg, loadErr = gateway.LoadConfig()
	flags := cmd.PersistentFlags()
	flags.StringVar(&cfg.Listen, "listen", cfg.Listen, "listen address (GATEWAY_LISTEN)")
	flags.StringVar(&cfg.ExternalURL, "external-url", cfg.ExternalURL, "external URL written into metadata (GATEWAY_EXTERNAL_URL)")
	flags.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "Postgres URL (GATEWAY_DATABASE_URL)")
	flags.StringVar(&cfg.BlobDriver, "blob-driver", cfg.BlobDriver, "fs or s3 (GATEWAY_BLOB_DRIVER)")
	flags.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn, error (GATEWAY_LOG_LEVEL)")
	validated := func() (gateway.Config, error) {
		if loadErr != nil {
			return cfg, loadErr
		}
		c := cfg
		return c, c.Validate()
	}
	// withStore runs fn with the validated configuration and an open
	// metadata store (the offline commands: migrate, bootstrap, gc).
	withStore := func(fn func(ctx context.Context, c gateway.Config, store *meta.Store) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			c, err := validated()
			if err != nil {
				return err
			}
			store, err := meta.Open(c.DatabaseURL)
			if err != nil {
				return fmt.Errorf("GATEWAY_DATABASE_URL: %w", err)
			}
			defer store.Close()
			pctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			if err := store.DB().PingContext(pctx); err != nil {
				return fmt.Errorf("database unreachable (GATEWAY_DATABASE_URL): %v", err)
			}
			return fn(cmd.Context(), c, store)
		}
	}

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (migrates first unless GATEWAY_MIGRATE=false)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := validated()
			if err != nil {
				return err
			}
			log := gateway.NewLogger(c)
			if os.Getenv("GOGC") == "" {
				// The heap is mostly pooled, long-lived I/O buffers and the
				// garbage rate is low, so collecting at 25% growth instead
				// of 100% costs little CPU and keeps resident memory close
				// to what is in use during large transfers.
				debug.SetGCPercent(25)
			}
			// The main thread then runs only this goroutine, which
			// waits, and no background digest worker, which lowers its
			// thread's priority for good, can take it
			// (registry.Registry.BackgroundDigests).
			runtime.LockOSThread()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			srv, err := gateway.New(ctx, c, log)
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", c.Listen)
			if err != nil {
				return fmt.Errorf("GATEWAY_LISTEN: %w", err)
			}
			log.Info("listening", "addr", ln.Addr().String(), "external_url", c.ExternalURL, "blob_driver", c.BlobDriver)
			return srv.Run(ctx, ln)
		},
	}

	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, c gateway.Config, store *meta.Store) error {
			applied, err := migrations.Up(ctx, store.DB().DB, gateway.NewLogger(c))
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "migrations applied: %d\n", len(applied))
			return nil
		}),
	}

	// A group command: without a known subcommand it is a mistake (exit
	// 1), not a request for help on stdout with exit 0, which a script
	// capturing `gateway admin bootstap` would have taken for a token.
	admin := &cobra.Command{Use: "admin", Short: "Administrative commands", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("admin: a subcommand is required (bootstrap); see gateway admin --help")
		}}
	var username string
	bootstrap := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create the admin user if missing and print a new personal access token (scope api) on stdout",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, c gateway.Config, store *meta.Store) error {
			if _, err := migrations.Up(ctx, store.DB().DB, nil); err != nil {
				return err
			}
			// The audit log holds every user and token creation, these
			// too: by the command, as no request and no user made them.
			audit := func(e *meta.AuditEvent) error {
				e.ActorType, e.ActorName = "system", "gateway admin bootstrap"
				return store.Audit(ctx, e)
			}
			u, err := store.UserByUsername(ctx, username)
			if errs.Is(err, errs.NotFound) {
				u = &meta.User{Username: username, Email: username + "@localhost", Name: username, IsAdmin: true, CanCreateGroup: true}
				err = store.CreateUser(ctx, u)
				if err == nil {
					err = audit(gateway.UserCreatedAudit(u))
				} else if errs.Is(err, errs.Conflict) { // created concurrently
					u, err = store.UserByUsername(ctx, username)
				}
			}
			if err != nil {
				return err
			}
			if !u.IsAdmin {
				return fmt.Errorf("user %q exists and is not an admin", username)
			}
			pat := &meta.PAT{UserID: u.ID, Name: "bootstrap", Scopes: []string{"api"}}
			secret, err := auth.IssuePAT(ctx, store, pat)
			if err != nil {
				return err
			}
			if err := audit(gateway.PATAudit("personal_access_token.create", u, pat)); err != nil {
				return err
			}
			fmt.Println(secret)
			return nil
		}),
	}
	bootstrap.Flags().StringVar(&username, "username", "root", "admin username")
	admin.AddCommand(bootstrap)

	var grace time.Duration
	var dryRun bool
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Free blobs and objects that nothing references, older than a grace period (safe while serving)",
		// A stray word is refused: `gateway gc dry-run` used to run a real gc.
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			// A negative grace puts the cut-off in the future: every
			// upload still running would be cut and its object freed.
			if grace < 0 {
				return fmt.Errorf("gc: --grace must be >= 0, got %s", grace)
			}
			return nil
		},
		RunE: withStore(func(ctx context.Context, c gateway.Config, store *meta.Store) error {
			// gc must sweep the store serve writes to, and reach it before
			// it deletes a row: a row goes before its object, so an
			// unreachable store would cost the first row and leave its
			// object to a later run. A missing filesystem root is another
			// folder than serve's (which creates it at start-up), not one
			// for gc to create and find empty.
			if c.BlobDriver == "fs" {
				if _, err := os.Stat(c.FSRoot); err != nil {
					return fmt.Errorf("config: GATEWAY_FS_ROOT: %v (give gc the blob folder serve uses)", err)
				}
			}
			blobs, err := gateway.OpenBlobs(ctx, c)
			if err != nil {
				return fmt.Errorf("blob store: %w", err)
			}
			pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			if err := blobs.Ping(pctx); err != nil {
				return fmt.Errorf("blob store unreachable (GATEWAY_BLOB_DRIVER=%s): %v", c.BlobDriver, err)
			}
			rep, err := janitor.Run(ctx, store, blobs, janitor.Options{
				Grace: grace, DryRun: dryRun,
				Progress: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
			})
			if err != nil {
				return err
			}
			fmt.Println(rep.String())
			return nil
		}),
	}
	gc.Flags().DurationVar(&grace, "grace", 24*time.Hour, "only free what was written at least this long ago (blob rows and objects by their creation, uploads by their start): a blob of a package deleted today goes on the next run if it is older")
	gc.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be freed without deleting")
	cmd.AddCommand(serve, migrate, admin, gc)
	return cmd
}
