package meta

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// TokensChannel carries token invalidations between gateway nodes.
const TokensChannel = "pkgate_tokens"

// PackagesChannel carries package-change notifications between gateway
// nodes: a comma-separated list of project ids, or "*" for every project.
const PackagesChannel = "pkgate_packages"

// maxPayload keeps a notification under Postgres' 8000-byte limit.
const maxPayload = 7900

// changeLinger is how long this node gathers package changes before it
// tells the others, and so about how long another node may serve a file
// lookup that a write here replaced or deleted.
const changeLinger = 10 * time.Millisecond

// changes batches this node's package-change notifications: the projects
// changed within changeLinger of the first go out in one NOTIFY. A node
// then sends at most about a hundred notifications a second, however many
// packages it publishes.
type changes struct {
	once   sync.Once
	wake   chan struct{}
	stop   chan struct{} // closed by Store.Close
	closed sync.Once
	mu     sync.Mutex
	ids    map[int64]struct{}
}

// PackagesChanged tells every node, within changeLinger and through
// PackagesChannel, that the packages of projectID changed, so they drop
// their cached file lookups of it; this node's own the caller drops at
// once (InvalidateProjectLookups). It does not wait.
//
// Until 2026-11-26 the generation trigger sent one notification from
// inside every publishing transaction; migrations/0012 records what that
// cost. Other nodes' document caches do not depend on notifications (they
// check the generation), and a change made without this call (by hand in
// SQL, or while the database refused the notification) reaches the other
// nodes' file lookups when their entries expire (lookupTTL).
func (s *Store) PackagesChanged(projectID int64) {
	c := &s.changes
	c.once.Do(func() {
		c.wake = make(chan struct{}, 1)
		go s.sendChanges()
	})
	c.mu.Lock()
	if c.ids == nil {
		c.ids = map[int64]struct{}{}
	}
	c.ids[projectID] = struct{}{}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // a send is due already and will find the id
	}
}

func (s *Store) sendChanges() {
	c := &s.changes
	linger := time.NewTimer(0)
	<-linger.C
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		}
		linger.Reset(changeLinger)
		select {
		case <-linger.C:
		case <-c.stop:
			return
		}
		c.mu.Lock()
		ids := c.ids
		c.ids = nil
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, p := range changePayloads(ids) {
			if s.Notify(ctx, PackagesChannel, p) != nil {
				break // see PackagesChanged: the lookup TTL bounds the rest
			}
		}
		cancel()
	}
}

// changePayloads splits project ids into notification payloads, sorted so
// a payload is the same whatever the map's order.
func changePayloads(ids map[int64]struct{}) []string {
	sorted := slices.Sorted(maps.Keys(ids))
	var out []string
	var b []byte
	for _, id := range sorted {
		n := strconv.AppendInt(nil, id, 10)
		if len(b) > 0 && len(b)+1+len(n) > maxPayload {
			out = append(out, string(b))
			b = b[:0]
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, n...)
	}
	if len(b) > 0 {
		out = append(out, string(b))
	}
	return out
}

// ParseChanges reads a PackagesChannel payload: the projects it names, or
// all=true for "*" or anything unreadable (a lost connection, a payload
// from a newer node), after which a listener must drop everything.
func ParseChanges(payload string) (ids []int64, all bool) {
	for f := range strings.SplitSeq(payload, ",") {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, true
		}
		ids = append(ids, id)
	}
	return ids, false
}

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
	dsn, err := connDSN(dsn)
	if err != nil {
		return err
	}
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
