package blob

import "io"

// IsRanged reports whether Open answered with parallel ranged GETs.
func IsRanged(rc io.ReadCloser) bool {
	_, ok := rc.(*rangedReader)
	return ok
}

const DownloadBudget = downloadBudget
