// Package config owns edgeflow's configuration file: its types, the defaults
// (each with the reason it suits a gateway), YAML loading with line numbers,
// validation that reports every problem at once, and atomic write-back.
//
// Load reads the file (and the CSV devices file it may name), walks the
// YAML tree by hand so that every problem carries its line and column and
// an unknown key gets a "did you mean" (suggest.go), fills in the defaults
// and validates; every problem found comes back at once (*Error), warnings
// beside it for the log. Relative paths in the file are taken from its
// directory, since a service's working directory is "/". Validate
// checks a Config built in code (the local API, tests) the same way.
// SaveConnections and SaveUpstreams rewrite one list and leave every other
// byte of the file as it was; writes are atomic (WriteFileAtomic: temporary
// file, fsync, rename), so a power cut leaves the old file or the new one. InitText
// is what `edgeflow config init` prints.
//
// The package holds no state: a Config is a plain value, replaced whole when
// the agent reloads. Its one goroutine is LoadCAFile's read, given up after
// a timeout, since a caFile that names a FIFO would block forever.
//
// Caveat: one setting is spelled in several places — its field
// (config.go, connection.go), its key (schema.go), its decoding (decode.go,
// load.go), its default (defaults.go), its check (validate.go) and its text
// in InitText (init.go) — and a new setting must be added to each.
package config
