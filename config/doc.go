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
// A setting of a section is one entry of the table in settings.go: its
// path, field, default, reason and check. The reader learns each
// mapping's keys from it (and suggests the nearest for a misspelt one),
// Default takes its defaults, check runs its checks, InitText prints its
// reasons, and the settings section of docs/configuration.md is written
// from it (`go generate ./config`; a test fails when it is stale).
//
// The items of the lists have tables of their own: a device's keys are
// device_keys.go's, read and documented from it, with the rules that tie
// them together in checkDevices; a connection's keys depend on its
// connector, so they stay lists (schema.go) with their reading in load.go
// and their checks in connection.go and mqttconn.go.
//
// Caveat: defaults that a package also takes for a zero option (buffer,
// delivery, the HTTP connector) are stated there too, as config cannot
// import them; a test in agent keeps the two equal
// (docs/decisions/settings-table.md).
package config

//go:generate go test -run TestConfigurationDoc -update .
