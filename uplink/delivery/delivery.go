package delivery

import (
	"context"
	"time"

	"edgeflow/buffer"
	"edgeflow/uplink"
)

// Store is what a lane needs of the durable buffer (buffer.Store).
type Store interface {
	// Append commits recs at the tail of queue and sets their Seq.
	Append(ctx context.Context, queue string, recs []buffer.Record) error
	// Commit writes a batch (appends to several queues, state) in one
	// transaction.
	Commit(ctx context.Context, b *buffer.Batch) error
	// Peek returns up to max of the oldest records of queue.
	Peek(queue string, max int) ([]buffer.Record, error)
	// Ack removes delivered records.
	Ack(queue string, seqs []uint64) error
	// DeadLetter moves a record the endpoint refused aside, with the reason.
	DeadLetter(queue string, seq uint64, reason string) error
	// Stats tells the size of a queue.
	Stats(queue string) buffer.QueueStats
}

// Persistence modes (config.PersistAlways, config.PersistOnOutage).
const (
	PersistAlways   = "always"
	PersistOnOutage = "on-outage"
)

// Options tune the engine; the zero value of each field takes the default.
type Options struct {
	// Persist is PersistAlways (commit before the PUSH_ACK) or
	// PersistOnOutage (memory while the endpoint answers promptly).
	Persist string
	// SpillAfter: an uplink not delivered within this time goes to flash
	// (on-outage mode). 5 s covers a slow answer without writing on every
	// hiccup.
	SpillAfter time.Duration
	// MaxMemory bounds the uplinks held in memory per connection before
	// they go to flash (on-outage mode), so RAM stays flat: 16,384 uplinks
	// are about 6 MiB, enough for a burst of 20,000 (a packet forwarder
	// flushing its own backlog) to reach an endpoint that takes 8,000/s
	// without a flash write; a longer overload goes to flash. (2,048
	// spilled most of that burst: 250 bytes written and ~5 µs of CPU more
	// per uplink, edgeflow-load reference load.)
	MaxMemory int
	// BackoffMin and BackoffMax bound the full-jitter exponential backoff:
	// about 1 s up to 30 s, as the design brief says.
	BackoffMin, BackoffMax time.Duration
	// MaxRetryAfter caps an endpoint's Retry-After so that a wrong header
	// cannot park a connection for days.
	MaxRetryAfter time.Duration
	// DrainRate bounds uplinks per second per connection, so that a
	// recovering endpoint is not flooded by the backlog.
	DrainRate float64
	// BatchSize is how many records a lane reads from flash at a time.
	BatchSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Merger adds the receptions of copies of a frame heard after it was
	// decoded (uplink.Merger); MergeWindow is how old an uplink must be
	// before it is sent, so that copies from other datagrams or sources
	// can join it. Zero sends at once.
	Merger      interface{ Apply(*uplink.Uplink) }
	MergeWindow time.Duration
	// BatchWait is how much longer than MergeWindow the first uplink of
	// a batch may wait for the ones arriving behind it (at most
	// mergeTick when less): sent together, their requests and answers
	// share the process's wakeups.
	BatchWait time.Duration
	// Clock corrects the reception time of uplinks received before the
	// wall clock was set; nil means the system clock.
	Clock *uplink.Clock
	// OnResult, when set, is told the outcome of every attempt: err is nil
	// when the endpoint accepted the uplink. It runs on the lane's
	// goroutine, so it must not block (the live view of the API uses it).
	OnResult func(connID string, up *uplink.Uplink, late bool, err error)
}

// Defaults of Options. Those that are also settings of the file
// (delivery.*, buffer.persist) are stated again in config's table, which
// is what an operator reads; a test in agent keeps the two equal.
const (
	DefaultPersist       = PersistOnOutage
	DefaultSpillAfter    = 5 * time.Second
	DefaultMaxMemory     = 16384
	DefaultBackoffMin    = time.Second
	DefaultBackoffMax    = 30 * time.Second
	DefaultMaxRetryAfter = 10 * time.Minute
	DefaultDrainRate     = 10000
	DefaultBatchSize     = 64
)

// DefaultOptions are the tunings an Options field left zero gets
// (setDefaults; a test keeps the two equal).
func DefaultOptions() Options {
	return Options{
		Persist:       DefaultPersist,
		SpillAfter:    DefaultSpillAfter,
		MaxMemory:     DefaultMaxMemory,
		BackoffMin:    DefaultBackoffMin,
		BackoffMax:    DefaultBackoffMax,
		MaxRetryAfter: DefaultMaxRetryAfter,
		DrainRate:     DefaultDrainRate,
		BatchSize:     DefaultBatchSize,
	}
}

func (o *Options) setDefaults() {
	if o.Persist == "" {
		o.Persist = PersistOnOutage
	}
	if o.SpillAfter <= 0 {
		o.SpillAfter = 5 * time.Second
	}
	if o.MaxMemory <= 0 {
		o.MaxMemory = 16384
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 10 * time.Minute
	}
	if o.DrainRate <= 0 {
		o.DrainRate = 10000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 64
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Clock == nil {
		o.Clock = &uplink.Clock{}
	}
}
