//go:build !unix

package config

import "os"

// canWrite probes with a temporary file where access(2) does not exist.
func canWrite(dir string) bool {
	f, err := os.CreateTemp(dir, ".edgeflow-probe-*")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return true
}

func keepOwner(f interface{ Chown(int, int) error }, old any) {}

const openNonblock = 0
