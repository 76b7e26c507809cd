//go:build !linux

package main

// watchFiles has no watch to offer outside Linux: the caller polls.
func watchFiles(...string) (changed <-chan struct{}, stop func(), ok bool) { return nil, nil, false }
