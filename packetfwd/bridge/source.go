package bridge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"edgeflow/config"

	"edgeflow/radio"
)

// Config configures the ingest of a ChirpStack Gateway Bridge's uplinks
// from an MQTT broker (usually the one on the gateway).
type Config struct {
	// Server is the broker: "tcp://127.0.0.1:1883", "ssl://host:8883",
	// "ws://host:80/mqtt", "wss://…".
	Server string
	// Topics to subscribe to; [DefaultTopic] when empty. ChirpStack v4
	// setups prefix the region: "eu868/gateway/+/event/up".
	Topics []string
	// QoS of the subscriptions, 0 or 1; 0 when zero.
	QoS      byte
	Username string
	Password string
	// CAFile, when set, is a PEM file of the CAs to trust for ssl/wss
	// instead of the system's.
	CAFile string
	// ClientID; "edgeflow-<random>" when empty, as two clients with one ID
	// throw each other off the broker.
	ClientID string
	// Now is the clock (the time of frames without a gateway time).
	Now func() time.Time
	// LogInterval is the least time between two warnings of one kind;
	// 10 s when zero.
	LogInterval time.Duration
	// ConnectTimeout bounds one connection attempt, CONNACK included (a
	// broker that accepts TCP but never answers would otherwise hold the
	// reconnect loop); 10 s when zero.
	ConnectTimeout time.Duration

	// OnDownlink, when set, sees the PHYPayload of each downlink command a
	// network server publishes for the gateways (for the join-accepts among
	// them; see downlink.go). It runs on the client's goroutine and must
	// return quickly.
	OnDownlink func(gatewayEUI lorawan.EUI64, phy []byte)
	// DownlinkTopics are the command topics; DownlinkTopics(Topics)
	// when empty.
	DownlinkTopics []string
}

// DefaultTopic is the uplink events of every gateway, as the bridge
// publishes them by default.
const DefaultTopic = "gateway/+/event/up"

// Status is the state of an Source.
type Status struct {
	Server      string
	Connected   bool
	LastConnect time.Time // agent clock; zero if never connected
	LastMessage time.Time // agent clock; zero if none yet
	Messages    uint64    // received, good or bad
	Frames      uint64    // passed to the handler (refused ones included)
	Dropped     uint64
}

// mqttDropReasons: the decoder's, and what can go wrong after it.
var mqttDropReasons = append(append([]string{}, bridgeDecodeReasons...),
	"handler_error", // the handler refused the frame (e.g. buffer full)
	"panic",         // a bug, recovered; later messages still flow
	"other",
)

// Source subscribes to a gateway bridge's uplink events and passes
// their Frames to a Handler. The paho client reconnects with a backoff on
// its own; the subscriptions are made again on every connect (the session
// is clean, so the broker forgets them).
//
// Metrics:
//
//	edgeflow_mqtt_messages_total          messages received
//	edgeflow_mqtt_frames_total            Frames passed to the handler
//	edgeflow_mqtt_dropped_total{reason}   messages that gave no Frame (mqttDropReasons)
//	edgeflow_mqtt_connects_total          connections made (first and re-)
//	edgeflow_mqtt_connection_lost_total
//	edgeflow_mqtt_connected               gauge, 1 when connected
type Source struct {
	cfg     Config
	handler radio.Handler
	logger  *slog.Logger

	messages, frames, connects, lost *metrics.Counter
	dropped                          map[string]*metrics.Counter

	mu          sync.Mutex  // guards everything below
	client      mqtt.Client // made by Open, connected by Run
	ctx         context.Context
	done        chan struct{} // closed by Close
	connected   bool
	ran         bool
	closed      bool
	lastConnect time.Time
	lastMessage time.Time
	nMessages   uint64
	nFrames     uint64
	nDropped    uint64
	lastLog     map[string]time.Time // by reason
	suppressed  map[string]int
}

// Open returns a source that passes frames to h, or the error in cfg (no
// server, unreadable CA file); Run connects. logger may be nil (discard);
// set may be nil (a private set, for tests).
func Open(cfg Config, h radio.Handler, logger *slog.Logger, set *metrics.Set) (*Source, error) {
	if cfg.Server == "" {
		return nil, errors.New("bridge: mqtt: no server")
	}
	if cfg.QoS > 1 {
		return nil, fmt.Errorf("bridge: mqtt: QoS %d, want 0 or 1", cfg.QoS)
	}
	var tlsConfig *tls.Config
	if cfg.CAFile != "" {
		pool, err := config.LoadCAFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bridge: mqtt: %w", err)
		}
		tlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if len(cfg.Topics) == 0 {
		cfg.Topics = []string{DefaultTopic}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = 10 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.OnDownlink != nil && len(cfg.DownlinkTopics) == 0 {
		cfg.DownlinkTopics = DownlinkTopics(cfg.Topics)
	}
	if cfg.ClientID == "" {
		var b [4]byte
		rand.Read(b[:])
		cfg.ClientID = "edgeflow-" + hex.EncodeToString(b[:])
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	s := &Source{
		cfg: cfg, handler: h, logger: logger,
		messages:   set.GetOrCreateCounter("edgeflow_mqtt_messages_total"),
		frames:     set.GetOrCreateCounter("edgeflow_mqtt_frames_total"),
		connects:   set.GetOrCreateCounter("edgeflow_mqtt_connects_total"),
		lost:       set.GetOrCreateCounter("edgeflow_mqtt_connection_lost_total"),
		dropped:    make(map[string]*metrics.Counter),
		done:       make(chan struct{}),
		lastLog:    make(map[string]time.Time),
		suppressed: make(map[string]int),
	}
	for _, r := range mqttDropReasons {
		s.dropped[r] = set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_mqtt_dropped_total{reason=%q}`, r))
	}
	set.GetOrCreateGauge("edgeflow_mqtt_connected", func() float64 {
		if s.Status().Connected {
			return 1
		}
		return 0
	})
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.Server).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		// Clean: the broker keeps nothing for us while we are away, so the
		// subscriptions must be made on every connect (onConnect).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(5 * time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetKeepAlive(30 * time.Second).
		SetOnConnectHandler(s.onConnect).
		SetConnectionLostHandler(s.onConnectionLost).
		SetCustomOpenConnectionFn(openLimited(maxMQTTPacket, s.tooLarge))
	if tlsConfig != nil {
		opts.SetTLSConfig(tlsConfig)
	}
	s.client = mqtt.NewClient(opts)
	return s, nil
}

// Run connects in the background, the broker may come up after the agent,
// and retries until ctx ends; ctx is also the context handed to the
// Handler. It then disconnects and returns.
func (s *Source) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran || s.closed {
		s.mu.Unlock()
		return errors.New("bridge: mqtt source already run or closed")
	}
	s.ran, s.ctx = true, ctx
	// With ConnectRetry the token completes only once connected: do not
	// wait for it. Under mu, so that a Close cannot come between.
	s.client.Connect()
	s.mu.Unlock()
	s.logger.Info("Connecting to MQTT broker", "server", config.RedactURL(s.cfg.Server), "topics", s.cfg.Topics)
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	s.Close()
	return nil
}

// Close disconnects: a Run ends, one not yet begun fails. It is safe to
// call more than once.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	ran := s.ran
	s.connected = false
	s.mu.Unlock()
	if ran {
		s.client.Disconnect(250)
	}
	return nil
}

// Status returns the connection state and counts.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Server: config.RedactURL(s.cfg.Server), Connected: s.connected, LastConnect: s.lastConnect,
		LastMessage: s.lastMessage, Messages: s.nMessages, Frames: s.nFrames, Dropped: s.nDropped}
}

// onConnect runs on a goroutine of its own at every (re)connect.
func (s *Source) onConnect(c mqtt.Client) {
	s.connects.Inc()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.connected, s.lastConnect = true, s.cfg.Now()
	s.mu.Unlock()
	filters := make(map[string]byte, len(s.cfg.Topics))
	for _, t := range s.cfg.Topics {
		filters[t] = s.cfg.QoS
	}
	tok := c.SubscribeMultiple(filters, s.onMessage)
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		err := tok.Error()
		if err == nil {
			err = errors.New("no SUBACK")
		}
		// Without the subscription the connection is useless: drop it,
		// and the reconnect subscribes again.
		s.logger.Error("MQTT subscribe failed, reconnecting", "topics", s.cfg.Topics, "error", err.Error())
		c.Disconnect(0)
		return
	}
	s.logger.Info("Subscribed to MQTT uplinks", "server", config.RedactURL(s.cfg.Server), "topics", s.cfg.Topics)
	s.subscribeDownlinks(c)
}

func (s *Source) onConnectionLost(_ mqtt.Client, err error) {
	s.lost.Inc()
	s.mu.Lock()
	s.connected = false
	s.mu.Unlock()
	s.logger.Warn("MQTT connection lost, reconnecting", "server", config.RedactURL(s.cfg.Server), "error", config.Redact(err.Error()))
}

// tooLarge counts a message the connection dropped unread (limitConn).
func (s *Source) tooLarge(size int) {
	s.messages.Inc()
	s.mu.Lock()
	s.nMessages++
	s.lastMessage = s.cfg.Now()
	s.mu.Unlock()
	s.drop("too_large", "", fmt.Errorf("a message of %d bytes, more than %d; dropped unread", size, maxMQTTPacket))
}

func (s *Source) onMessage(_ mqtt.Client, m mqtt.Message) {
	s.handleMessage(m.Topic(), m.Payload())
}

// handleMessage decodes one message and hands its frames over. Nothing a
// message holds may stop the next one: errors are counted, panics
// recovered.
func (s *Source) handleMessage(topic string, payload []byte) {
	s.messages.Inc()
	now := s.cfg.Now()
	s.mu.Lock()
	s.nMessages++
	s.lastMessage = now
	ctx := s.ctx
	s.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	defer func() {
		if r := recover(); r != nil {
			s.drop("panic", topic, fmt.Errorf("%v", r))
		}
	}()
	frames, err := DecodeUplink(payload, now)
	if err != nil {
		reason := "other"
		var be *DecodeError
		if errors.As(err, &be) {
			reason = be.Reason
		}
		s.drop(reason, topic, err)
		return
	}
	s.frames.Add(len(frames))
	s.mu.Lock()
	s.nFrames += uint64(len(frames))
	s.mu.Unlock()
	if err := s.handler.HandleFrames(ctx, frames); err != nil {
		s.drop("handler_error", topic, err)
	}
}

// drop counts a message that gave no frame and logs it, at most once per
// LogInterval and reason; bad CRCs are radio noise and not logged.
func (s *Source) drop(reason, topic string, err error) {
	c, ok := s.dropped[reason]
	if !ok {
		c = s.dropped["other"]
	}
	c.Inc()
	now := s.cfg.Now()
	s.mu.Lock()
	s.nDropped++
	if reason == "crc_error" || reason == "no_crc" {
		s.mu.Unlock()
		return
	}
	if last, ok := s.lastLog[reason]; ok && now.Sub(last) < s.cfg.LogInterval {
		s.suppressed[reason]++
		s.mu.Unlock()
		return
	}
	suppressed := s.suppressed[reason]
	s.lastLog[reason], s.suppressed[reason] = now, 0
	s.mu.Unlock()
	s.logger.Warn("Dropped MQTT message", "reason", reason, "topic", truncate(topic),
		"error", err.Error(), "suppressed", suppressed)
}
