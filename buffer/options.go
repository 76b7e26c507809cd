package buffer

import (
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

const (
	// DefaultMaxSize is the disk budget when Options.MaxSize is zero. A
	// buffered uplink takes about 420 bytes on disk (300-byte record, full
	// pages), so 64 MiB holds ~160k uplinks: 1.8 days of a busy gateway at one
	// uplink a second, weeks at typical rates. It is small enough for the data
	// partitions of small gateways and, mapped, a modest share of a 32-bit
	// address space and of 128 MB of RAM.
	DefaultMaxSize = 64 << 20

	// maxSize32 caps the file on 32-bit targets: bbolt maps the whole file
	// and doubles the map, and at 512 MiB-1 GiB mmap fails or bbolt faults
	// (see docs/reference/buffering-and-bbolt.md §1.5).
	maxSize32 = 256 << 20
	minSize   = 1 << 20

	// MaxRecordSize bounds one record: uplinks are well under 1 KiB, and a
	// bound keeps one bad caller from filling the budget in one record.
	MaxRecordSize = 64 << 10
	// MaxQueueName bounds queue names (they are bucket names and metric labels).
	MaxQueueName = 200

	// DefaultCommitInterval is how long a one-part write (Append,
	// UpdateStates) waits for others to share its commit: long enough to
	// catch independent callers that write at the same moment (several
	// lanes spilling to flash), short enough to stay well within the packet
	// forwarder's 100 ms. What belongs together is a Batch, and Commit does
	// not wait (docs/decisions/explicit-commits.md).
	DefaultCommitInterval = 2 * time.Millisecond
	// DefaultAckWait bounds how long an ack waits for the next append to
	// share its commit (see Options.AckWait). A lane applies its acks about
	// once a second while uplinks trickle in, so at rates down to about one
	// uplink a second its acks ride the appends' commits.
	DefaultAckWait = time.Second
	// DefaultMaxBatch commits early once this many records are pending: past
	// a few hundred records per commit the per-record write cost flattens.
	DefaultMaxBatch = 500

	// dataShare is the part of MaxSize that pages holding records and dead
	// letters may use (estimated, see budget.go). The rest is room for the
	// copy-on-write pages of the running commit, pages freed but still
	// pending, the freelist and bbolt's growth step, so bbolt's hard MaxSize
	// is a backstop that is rarely hit.
	dataShareNum, dataShareDen = 7, 10

	// Compaction: only worth a rename when the file is big in absolute
	// terms and mostly free space (a drained backlog).
	compactMinFile   = 8 << 20
	compactRatio     = 4
	compactMinPeriod = time.Minute

	lockTimeout = 5 * time.Second
)

// is32bit is true on 32-bit targets (arm, mips, mipsle, 386).
const is32bit = ^uint(0)>>32 == 0

// Options configures a Store. The zero value is usable.
type Options struct {
	// MaxSize is the disk budget of the file in bytes (default
	// DefaultMaxSize, at least 1 MiB, at most 256 MiB on 32-bit targets).
	// When it is reached the oldest records are dropped, never the new ones.
	MaxSize int64
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// Metrics receives the store's metrics; nil keeps them in a private set.
	Metrics *metrics.Set
	// Now is the clock (dead-letter times, damaged-file names); nil is time.Now.
	Now func() time.Time
	// CommitInterval is the longest an Append or UpdateStates waits to be
	// grouped with others (Commit does not wait); what arrives while a
	// commit runs forms the next group.
	CommitInterval time.Duration
	// MaxBatch commits as soon as this many records are pending.
	MaxBatch int
	// AckWait: while appends come regularly, an Ack (or AckThrough) waits
	// until the next one is due, if that is within AckWait, to share its
	// commit (default DefaultAckWait; negative: acks never wait). The
	// records it removes stay on flash that much longer: a crash then
	// sends them again.
	AckWait time.Duration
	// Check vets an existing file before it is opened and returns an error
	// if it must not be opened. bbolt panics on corrupt pages, sometimes in
	// its own goroutines, so the agent runs the check in a child process
	// (see CommandCheck); nil runs CheckFile in this process.
	Check func(path string) error

	// failpoint, when set (tests only), is called at named points and may
	// kill the process to simulate a crash there.
	failpoint func(name string)
	// lockTimeout overrides how long Open waits for the file lock (tests).
	lockTimeout time.Duration
}

// DefaultOptions are the tunings an Options field left zero gets. The
// agent's configuration states the same MaxSize as buffer.maxSize's
// default; a test in agent keeps the two equal.
func DefaultOptions() Options {
	return Options{
		MaxSize:        DefaultMaxSize,
		CommitInterval: DefaultCommitInterval,
		MaxBatch:       DefaultMaxBatch,
		AckWait:        DefaultAckWait,
	}
}

func (o Options) withDefaults() (Options, []string) {
	var notes []string
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxSize < minSize {
		o.MaxSize = minSize
		notes = append(notes, "max_size raised to 1 MiB")
	}
	if is32bit && o.MaxSize > maxSize32 {
		o.MaxSize = maxSize32
		notes = append(notes, "max_size lowered to 256 MiB on a 32-bit target")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = DefaultCommitInterval
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.AckWait == 0 {
		o.AckWait = DefaultAckWait
	}
	if o.lockTimeout <= 0 {
		o.lockTimeout = lockTimeout
	}
	if o.Check == nil {
		o.Check = CheckFile
	}
	return o, notes
}

func (o Options) hit(name string) {
	if o.failpoint != nil {
		o.failpoint(name)
	}
}
