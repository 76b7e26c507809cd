package config

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MaxCAFileSize bounds a caFile: a bundle of every public root is 250 KiB.
const MaxCAFileSize = 1 << 20

// caFileTimeout bounds the read of a caFile, which may sit on a hung
// network mount: validation and reloads must not hang on it.
const caFileTimeout = 5 * time.Second

// LoadCAFile reads a PEM file of CA certificates into a pool, for a
// connection's caFile. Only a regular file of at most MaxCAFileSize is
// read, without blocking (a FIFO would park the reader forever,
// /dev/zero would fill the memory) and within caFileTimeout.
func LoadCAFile(path string) (*x509.CertPool, error) {
	type result struct {
		pem []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := readCAFile(path)
		done <- result{b, err}
	}()
	t := time.NewTimer(caFileTimeout)
	defer t.Stop()
	var r result
	select {
	case r = <-done:
	case <-t.C:
		return nil, fmt.Errorf("caFile %s could not be read within %s", path, caFileTimeout)
	}
	if r.err != nil {
		return nil, r.err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(r.pem) {
		return nil, fmt.Errorf("caFile %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	return pool, nil
}

func readCAFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, fmt.Errorf("caFile: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("caFile: %v", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("caFile %s is not a regular file", path)
	}
	if st.Size() > MaxCAFileSize {
		return nil, fmt.Errorf("caFile %s is larger than %s; is it a PEM file of CA certificates?", path, ByteSize(MaxCAFileSize))
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxCAFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("caFile: %v", err)
	}
	if len(b) > MaxCAFileSize {
		return nil, fmt.Errorf("caFile %s is larger than %s", path, ByteSize(MaxCAFileSize))
	}
	return b, nil
}

// CAFileUnder tells whether path names a file under dir, by its text (no
// file is looked at, so the answer tells nothing about what exists). ""
// dir allows nothing.
func CAFileUnder(path, dir string) bool {
	if dir == "" || !filepath.IsAbs(path) || strings.Contains(path, "\x00") {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel)
}
