package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/agent/api"
	"edgeflow/buffer"
	"edgeflow/config"
	"edgeflow/packetfwd/bridge"
	"edgeflow/packetfwd/semtech"
	"edgeflow/radio"
	"edgeflow/uplink"
	"edgeflow/uplink/delivery"
)

// Options are what the command line gives the agent besides its configuration.
type Options struct {
	Logger  *slog.Logger
	Version string
	// CheckBuffer checks a suspect buffer file, ideally in a child process
	// (see buffer.Options.Check); nil checks in-process.
	CheckBuffer func(path string) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logs says where the log goes (journald, syslog, a file), for the
	// start line; "" leaves it out.
	Logs string
	// TLSRoots runs before a connection that may verify a server against
	// the system's roots is dialled (an https endpoint or proxy, an MQTT
	// broker over TLS): the binary gives crypto/x509 its fallback roots
	// then, and only if the system has none. It may run on several
	// goroutines at once. nil: nothing to do.
	TLSRoots func()
}

// Agent is one running edgeflow.
type Agent struct {
	cfg  atomic.Pointer[config.Config] // replaced whole by Reload
	opts Options
	log  *slog.Logger
	set  *vm.Set

	store    *buffer.Store
	sessions *uplink.Sessions
	decoder  *uplink.Decoder
	clock    *uplink.Clock
	merger   *uplink.Merger // receptions of frames heard again join their uplink
	dev      *devices       // OTAA joins and session persistence
	delivery *delivery.Manager
	sources  []radio.Source  // bound by Start, run until Stop
	running  *running        // the sources' Runs
	udp      *semtech.Server // also in sources: status and reload
	mqtt     *bridge.Source  // also in sources, when configured
	api      *api.Server
	events   *api.Hub // the API's live view; publishing never blocks
	recent   *recent  // last payloads and the charts' history, in memory
	live     liveRing // the last uplinks, for a live view opened after them

	stopSampling context.CancelFunc // the backlog chart's sampler

	started  time.Time
	reloadMu sync.Mutex // serialises Reload
	updateMu sync.Mutex // serialises the API's read-change-write of connections

	lastReload atomic.Pointer[api.ReloadStatus]
	ready      atomic.Bool // between the end of Start and Stop: Reload may run

	startMu  sync.Mutex // guards startups
	startups map[string]time.Time
}

// New prepares an agent; nothing is opened or bound until Start.
func New(cfg *config.Config, opts Options) (*Agent, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if cfg == nil {
		return nil, errors.New("no configuration")
	}
	a := &Agent{opts: opts, log: opts.Logger, set: vm.NewSet(), events: api.NewHub(0)}
	a.cfg.Store(cfg)
	a.recent = newRecent()
	a.events.SetRecent(func() []api.Event {
		f := a.recent.formatsFor(a.config())
		return a.live.events(a.connectionName, func(eui lorawan.EUI64, p []byte) []api.Reading { rs, _ := f.readings(eui, p); return rs })
	})
	a.clock = &uplink.Clock{Now: opts.Now}
	a.merger = uplink.NewMerger(opts.Now)
	a.set.NewGauge("edgeflow_api_events_missed_total", func() float64 { return float64(a.events.Dropped()) })
	return a, nil
}

// Run starts the agent, waits for ctx to end (or a frame source to fail),
// and stops it cleanly.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-a.running.done:
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return errors.Join(a.running.err, a.Stop(stopCtx))
}

// Start opens the buffer, starts delivery and binds the frame sources, in
// that order, so that nothing is acknowledged before it can be kept. What
// it started is undone, in reverse order, if a later step fails.
func (a *Agent) Start(ctx context.Context) (err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for _, f := range slices.Backward(undo) {
				f()
			}
		}
	}()
	a.started = a.opts.Now()
	cfg := a.config()
	if err := os.MkdirAll(filepath.Dir(cfg.Buffer.Path), 0o750); err != nil {
		return fmt.Errorf("buffer directory: %w", err)
	}
	if fs := buffer.VolatileFS(filepath.Dir(cfg.Buffer.Path)); fs != "" {
		a.log.Warn("the buffer is in RAM: the backlog, frame counters and OTAA sessions are lost at every reboot; set buffer.path on flash",
			"buffer", cfg.Buffer.Path, "filesystem", fs)
	}
	store, err := buffer.Open(cfg.Buffer.Path, buffer.Options{
		MaxSize: int64(cfg.Buffer.MaxSize),
		Logger:  a.log.With("component", "buffer"),
		Metrics: a.set,
		Now:     a.opts.Now,
		Check:   a.opts.CheckBuffer,
	})
	if err != nil {
		return fmt.Errorf("buffer %s: %w", cfg.Buffer.Path, err)
	}
	a.store = store
	undo = append(undo, func() { store.Close(); a.store = nil })

	if err := a.startSessions(ctx, cfg); err != nil {
		return err
	}
	undo = append(undo, a.stopSessions)

	conns, err := a.connections(cfg.Connections)
	if err != nil {
		return err
	}
	a.delivery = delivery.NewManager(store, delivery.Options{
		Persist:     cfg.Buffer.Persist,
		BackoffMin:  cfg.Delivery.RetryMin.Std(),
		BackoffMax:  cfg.Delivery.RetryMax.Std(),
		DrainRate:   float64(cfg.Delivery.DrainRate),
		SpillAfter:  cfg.Delivery.SpillAfter.Std(),
		Clock:       a.clock,
		Merger:      a.merger,
		MergeWindow: cfg.Delivery.MergeWindow.Std(),
		BatchWait:   cfg.Delivery.BatchWait.Std(),
		Now:         a.opts.Now,
		OnResult:    a.publishDelivery,
	}, a.log.With("component", "delivery"), a.set)
	a.delivery.Start(context.WithoutCancel(ctx), conns)
	undo = append(undo, func() { _ = a.delivery.Stop(context.Background()); a.delivery = nil })
	a.noteStartups(cfg, cfg.Connections)

	undo = append(undo, a.closeSources) // those bound so far
	if err := a.listenUDP(cfg); err != nil {
		return err
	}
	if err := a.startAPI(); err != nil {
		return fmt.Errorf("local API on %s: %w", cfg.API.Bind, err)
	}
	undo = append(undo, func() { a.stopAPI(context.Background()) })
	if err := a.openMQTT(cfg); err != nil {
		return err
	}
	a.runSources(ctx)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopSampling = cancel
	go a.sampleBacklogs(sctx)
	started := []any{"version", a.opts.Version, "config", configName(cfg), "udp", a.udp.Addr().String(),
		"buffer", cfg.Buffer.Path, "persist", cfg.Buffer.Persist, "connections", len(conns), "devices", len(cfg.Devices), "api", a.apiAddrString(),
		"gomaxprocs", runtime.GOMAXPROCS(0), "page", a.pageURL()}
	if a.opts.Logs != "" {
		started = append(started, "logs", a.opts.Logs)
	}
	if len(cfg.Devices) == 0 {
		started = append(started, "next", nextStep(cfg))
	}
	a.log.Info("edgeflow started", started...)
	a.ready.Store(true)
	return nil
}

// Ready tells whether the agent has started and not begun to stop, so
// that a reload can be applied.
func (a *Agent) Ready() bool { return a.ready.Load() }

// pageURL is where a browser finds the web page: a technician reads it
// off the first lines of the log.
func (a *Agent) pageURL() string {
	if a.api == nil {
		return "off (api.bind is empty)"
	}
	host, port, err := net.SplitHostPort(a.api.Addr().String())
	if err != nil {
		return "http://" + a.api.Addr().String() + "/"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "<this gateway's address>"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// nextStep says what to do on an agent that can decode nothing yet.
func nextStep(cfg *config.Config) string {
	where := "a configuration file (edgeflow config init > /etc/edgeflow/edgeflow.yaml)"
	if cfg.Path != "" {
		where = cfg.Path + " (it is reloaded when saved)"
	}
	return "no device is configured, so every uplink is dropped: list your devices under devices: in " + where +
		"; then watch them arrive on the page's Live view or with edgeflow status"
}

// handleFrames is the packet forwarder's handler: decode, then queue for
// every connection. With persist "always" it returns after the commit, and
// only then is the PUSH_DATA acknowledged.
func (a *Agent) handleFrames(ctx context.Context, frames []radio.Frame) error {
	now := a.opts.Now() // one reading, by pointer: a time.Time copy is a runtime call on 32-bit ARM
	ups := a.decoder.DecodeAt(frames, &now)
	a.clock.Mark(ups)
	a.recent.record(&now, ups)
	a.publishUplinks(ups)
	a.sampleBacklogsDue(&now) // what waited before this batch
	return a.enqueue(ctx, ups)
}

// Stop closes the frame sources first (nothing new arrives), then delivery
// (memory goes to flash), then the buffer.
func (a *Agent) Stop(ctx context.Context) error {
	a.ready.Store(false)
	var errs []error
	if a.stopSampling != nil {
		a.stopSampling()
	}
	a.stopAPI(ctx)
	a.stopSources()
	if a.delivery != nil {
		errs = append(errs, a.delivery.Stop(ctx))
	}
	a.stopSessions()
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	a.log.Info("edgeflow stopped")
	return errors.Join(errs...)
}

// UDPAddr is the address the packet forwarder listener is bound to.
func (a *Agent) UDPAddr() string { return a.udp.Addr().String() }

func configName(cfg *config.Config) string {
	if cfg.Path == "" {
		return "built-in defaults"
	}
	return cfg.Path
}

func (a *Agent) apiAddrString() string {
	if a.api == nil {
		return "off"
	}
	return a.api.Addr().String()
}

// config is the configuration in force.
func (a *Agent) config() *config.Config { return a.cfg.Load() }
