// Package janitor frees storage nothing references any more, online and
// without locking the registry: the database is the mark set, and a grace
// window keeps it away from uploads that are still committing.
//
// Three sweeps:
//  1. blob rows that no package file references and that are older than
//     the grace window: the row is deleted first (the foreign key refuses if
//     a commit just referenced it), then its object;
//  2. objects under blobs/ that no row names and that are older than the
//     grace window: leftovers of uploads that failed or of a process that
//     died between writing an object and committing its row;
//  3. uploads started before the grace window that never became objects
//     (a process that died mid-upload, an abort S3 refused): S3's
//     incomplete multipart uploads and the filesystem's temporary files,
//     which no listing of objects shows. An upload still running after
//     the whole grace window (24 hours by default) would be cut off.
package janitor

import (
	"context"
	"fmt"
	"time"

	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/meta"
)

// Report says what a run freed (or would free, in a dry run).
type Report struct {
	BlobRows     int
	Objects      int
	Unfinished   int // uploads of sweep 3
	Bytes        int64
	ObjectsSeen  int
	DryRun       bool
	GraceSeconds float64
}

func (r Report) String() string {
	verb := "freed"
	if r.DryRun {
		verb = "would free"
	}
	return fmt.Sprintf("gc %s %d unreferenced blobs, %d orphan objects and %d unfinished uploads, %d bytes (%d objects scanned, grace %s)",
		verb, r.BlobRows, r.Objects, r.Unfinished, r.Bytes, r.ObjectsSeen, time.Duration(r.GraceSeconds*float64(time.Second)))
}

// Options tune a run.
type Options struct {
	Grace    time.Duration
	DryRun   bool
	Progress func(format string, args ...any) // optional
	Now      func() time.Time
	// SkipOrphans leaves out sweep 2: objects no row of this database
	// names are left alone (see gateway.Config.GCOrphans).
	SkipOrphans bool
}

// Run performs the three sweeps once.
func Run(ctx context.Context, store *meta.Store, blobs blob.Driver, o Options) (Report, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(format, args...)
		}
	}
	cutoff := now().Add(-o.Grace)
	rep := Report{DryRun: o.DryRun, GraceSeconds: o.Grace.Seconds()}

	say("sweep 1: unreferenced blob rows older than %s", cutoff.UTC().Format(time.RFC3339))
	for {
		bs, err := store.UnreferencedBlobs(ctx, cutoff, 500)
		if err != nil {
			return rep, err
		}
		if len(bs) == 0 {
			break
		}
		progressed := false
		for _, b := range bs {
			if o.DryRun {
				rep.BlobRows++
				rep.Bytes += b.Size
				continue
			}
			gone, err := store.DeleteBlobRow(ctx, b.SHA256)
			if err != nil {
				return rep, err
			}
			if !gone {
				continue // referenced again meanwhile
			}
			progressed = true
			if err := blobs.Delete(ctx, b.StorageKey); err != nil {
				return rep, fmt.Errorf("delete object %s: %w", b.StorageKey, err)
			}
			rep.BlobRows++
			rep.Bytes += b.Size
		}
		say("  %d blob rows, %d bytes so far", rep.BlobRows, rep.Bytes)
		if o.DryRun || !progressed {
			break
		}
	}

	if err := sweepOrphans(ctx, store, blobs, o, cutoff, &rep, say); err != nil {
		return rep, err
	}

	say("sweep 3: uploads started before %s that never finished", cutoff.UTC().Format(time.RFC3339))
	u, err := blobs.SweepUnfinished(ctx, cutoff, o.DryRun)
	rep.Unfinished += u.Uploads
	rep.Bytes += u.Bytes
	say("  %d unfinished uploads, %d bytes", u.Uploads, u.Bytes)
	return rep, err
}

// sweepOrphans is sweep 2.
func sweepOrphans(ctx context.Context, store *meta.Store, blobs blob.Driver, o Options, cutoff time.Time, rep *Report, say func(string, ...any)) error {
	if o.SkipOrphans {
		say("sweep 2: skipped (objects no row names are left alone)")
		return nil
	}
	say("sweep 2: objects under blobs/ that no row names")
	var batch []blob.Info
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		keys := make([]string, len(batch))
		for i, b := range batch {
			keys[i] = b.Key
		}
		known, err := store.KnownStorageKeys(ctx, keys)
		if err != nil {
			return err
		}
		for _, b := range batch {
			if known[b.Key] || !b.ModTime.Before(cutoff) {
				continue
			}
			if !o.DryRun {
				if err := blobs.Delete(ctx, b.Key); err != nil {
					return fmt.Errorf("delete object %s: %w", b.Key, err)
				}
			}
			rep.Objects++
			rep.Bytes += b.Size
		}
		batch = batch[:0]
		say("  %d objects scanned, %d orphans", rep.ObjectsSeen, rep.Objects)
		return nil
	}
	err := blobs.List(ctx, "blobs/", func(i blob.Info) error {
		rep.ObjectsSeen++
		batch = append(batch, i)
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return err
}
