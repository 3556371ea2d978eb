package meta

import (
	"context"
	"time"

	"github.com/lib/pq"
)

// TokensChannel carries token invalidations between gateway nodes.
const TokensChannel = "pkgate_tokens"

// Notify sends a Postgres notification (delivered to every listening node
// when the surrounding transaction, if any, commits).
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	_, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
	return wrap("meta.Notify", err)
}

// Listen delivers notifications of channel to fn until ctx ends. After a
// lost connection fn is called with payload "*" (notifications may have
// been missed), and the listener reconnects by itself.
func Listen(ctx context.Context, dsn, channel string, fn func(payload string)) error {
	l := pq.NewListener(dsn, 500*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		if ev == pq.ListenerEventReconnected || ev == pq.ListenerEventConnectionAttemptFailed {
			fn("*")
		}
	})
	if err := l.Listen(channel); err != nil {
		l.Close()
		return err
	}
	go func() {
		defer l.Close()
		ping := time.NewTicker(30 * time.Second)
		defer ping.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case n := <-l.Notify:
				if n == nil { // reconnected: state unknown
					fn("*")
					continue
				}
				fn(n.Extra)
			case <-ping.C:
				go l.Ping() //nolint:errcheck // detects dead connections
			}
		}
	}()
	return nil
}
