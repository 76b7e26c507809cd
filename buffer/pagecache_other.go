//go:build !linux

package buffer

// dropPageCache: see pagecache_linux.go; elsewhere the agent only runs in
// development.
func dropPageCache(string) {}
