package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Built-in defaults. Each is what suits a gateway edgeflow shares with a
// packet forwarder and a few other services, on flash, behind NAT.
const (
	// DefaultPath is the file `edgeflow run` reads when --config is not
	// given and the file exists; the packages install it.
	DefaultPath = "/etc/edgeflow/edgeflow.yaml"
	// DefaultUDPBind is loopback: the packet forwarder runs on the same
	// gateway, and nobody on the LAN should inject frames. Port 1700 is what
	// every Semtech forwarder's serv_port_up/down already says.
	DefaultUDPBind = "127.0.0.1:1700"
	// DefaultPersist spares the flash: uplinks go straight from memory while
	// the endpoint answers and are written only when it does not.
	DefaultPersist = PersistOnOutage
	// DefaultMaxSize holds days of uplinks from hundreds of devices yet
	// leaves room on a 128 MB flash partition.
	DefaultMaxSize = 64 * MiB
	// MinMaxSize is the least budget in which the buffer can work at all.
	MinMaxSize = 1 * MiB
	// DefaultAPIBind is loopback: the API changes where data goes, so it is
	// reachable from the network only when an operator decides so.
	DefaultAPIBind = "127.0.0.1:8090"
	// DefaultLogLevel logs starts, stops, outages and recoveries, not every
	// uplink, so syslog on a small flash does not fill.
	DefaultLogLevel = "info"
	// DefaultMQTTTopic is a ChirpStack v4 gateway bridge's uplink events.
	DefaultMQTTTopic = "gateway/+/event/up"
	// DefaultConnectionName is IoT Flow's name for its Cayenne connection.
	DefaultConnectionName = "Actility To Cayenne"
	// SystemBufferDir is where a packaged install keeps its buffer; the
	// packages create it and give it to the service user.
	SystemBufferDir = "/var/lib/edgeflow"
	// BufferFile is the buffer's file name inside its directory.
	BufferFile = "buffer.db"
)

// DefaultDrainRate bounds a backlog's drain to one endpoint: far above what
// a gateway receives live (a few hundred uplinks/s at most), so a backlog
// drains fast, yet bounded so a recovering endpoint is not flooded.
const DefaultDrainRate = 10000

// DefaultConcurrency is how many requests an HTTP connection has in
// flight: an endpoint that takes 200 ms per request then still takes
// 32 / 0.2 s = 160 uplinks/s, above a busy gateway's 100/s.
const DefaultConcurrency = 32

// LogLevels are the values of log.level.
func LogLevels() []string { return []string{"debug", "info", "warn", "error"} }

// Default returns the built-in configuration: what `edgeflow run` uses with
// no file, and what a file's left-out keys get. The buffer path comes from
// SystemDirs.
func Default() *Config { return DefaultIn(SystemDirs()) }

// DefaultIn is Default with the buffer directory chosen from dirs, for tests
// and for callers that know better than the process environment.
func DefaultIn(dirs Dirs) *Config { return table(settings()).defaults(dirs) }

// defaults is DefaultIn from a table already built.
func (t table) defaults(dirs Dirs) *Config {
	c := &Config{}
	t.setDefaults(c, dirs, "")
	c.Complete()
	return c
}

// DefaultConnection is IoT Flow's Cayenne connection, verbatim: delivering
// to Cayenne is what edgeflow is installed for.
func DefaultConnection() Connection {
	return Connection{
		Name:          DefaultConnectionName,
		ConnectorID:   ConnectorHTTP,
		Brand:         BrandCayenne,
		Configuration: ConnectionConfiguration{DestinationURL: CayenneURL},
	}
}

// Dirs is what the default buffer path is chosen from. Every field is a
// function so that tests choose without touching the real filesystem.
type Dirs struct {
	Getenv   func(key string) string
	HomeDir  func() (string, error)
	TempDir  func() string
	Writable func(dir string) bool // dir exists and is writable, or can be created
}

// SystemDirs reads the process environment and filesystem.
func SystemDirs() Dirs {
	return Dirs{Getenv: os.Getenv, HomeDir: os.UserHomeDir, TempDir: os.TempDir, Writable: writableOrCreatable}
}

// BufferPath chooses where the buffer lives when the file does not say:
// SystemBufferDir for a service (root or the package's user), else the
// user's state directory, so a newcomer's `edgeflow run` works without root
// and still keeps its backlog across restarts; the temporary directory is
// the last resort (it may be wiped at boot).
func (d Dirs) BufferPath() string {
	for _, dir := range d.candidates() {
		if d.Writable != nil && d.Writable(dir) {
			return filepath.Join(dir, BufferFile)
		}
	}
	tmp := os.TempDir()
	if d.TempDir != nil {
		tmp = d.TempDir()
	}
	return filepath.Join(tmp, "edgeflow", BufferFile)
}

func (d Dirs) candidates() []string {
	dirs := []string{SystemBufferDir}
	getenv := d.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if s := getenv("XDG_STATE_HOME"); filepath.IsAbs(s) {
		dirs = append(dirs, filepath.Join(s, "edgeflow"))
	}
	if d.HomeDir != nil {
		if h, err := d.HomeDir(); err == nil && filepath.IsAbs(h) {
			dirs = append(dirs, filepath.Join(h, ".local", "state", "edgeflow"))
		}
	}
	return dirs
}

// writableOrCreatable tells whether dir can hold the buffer, without creating
// anything: computing defaults must not leave directories behind.
func writableOrCreatable(dir string) bool {
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			return fi.IsDir() && canWrite(dir)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent // the nearest existing ancestor decides
	}
}
