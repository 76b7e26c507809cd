//go:build !linux

package buffer

// VolatileFS cannot tell a RAM filesystem apart outside Linux.
func VolatileFS(dir string) string { return "" }
