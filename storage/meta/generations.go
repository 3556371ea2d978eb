package meta

import (
	"context"

	"github.com/lib/pq"
)

// Generation returns a number that changes whenever any package of type typ
// in any of the projects changes (the sum of their counters, which only
// grow). Document caches compare it with the value their copy was built at.
func (s *Store) Generation(ctx context.Context, projectIDs []int64, typ string) (int64, error) {
	var g int64
	var err error
	if len(projectIDs) == 1 {
		err = s.db.GetContext(ctx, &g, `SELECT coalesce(sum(generation), 0) FROM package_generations
			WHERE project_id = $1 AND package_type = $2`, projectIDs[0], typ)
	} else {
		err = s.db.GetContext(ctx, &g, `SELECT coalesce(sum(generation), 0) FROM package_generations
			WHERE project_id = ANY($1) AND package_type = $2`, pq.Int64Array(projectIDs), typ)
	}
	return g, wrap("meta.Generation", err)
}
