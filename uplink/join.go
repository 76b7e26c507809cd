package uplink

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"
)

// RootKeys are an OTAA device's root keys, from which the agent derives the
// session the device joins with. Its String, GoString, LogValue and
// MarshalJSON mask the AppKey.
type RootKeys struct {
	DevEUI  lorawan.EUI64
	JoinEUI lorawan.EUI64 // all zeros: accept whatever JoinEUI the device sends
	AppKey  lorawan.AES128Key
	// NwkKey is a LoRaWAN 1.1 device's second root key; all zeros for a
	// 1.0 device. A 1.1 device signs its join-requests with it, and the
	// join-accept says whether the server speaks 1.1 (OptNeg) or 1.0.
	NwkKey lorawan.AES128Key
}

// String describes the device with its key masked.
func (d RootKeys) String() string {
	return fmt.Sprintf("{DevEUI:%s JoinEUI:%s AppKey:%s NwkKey:%s}", HexUpper(d.DevEUI[:]), HexUpper(d.JoinEUI[:]), maskedKey, maskedKey)
}

// GoString keeps %#v from printing the key.
func (d RootKeys) GoString() string { return "uplink.RootKeys" + d.String() }

// LogValue keeps slog from printing the key.
func (d RootKeys) LogValue() slog.Value {
	return slog.GroupValue(slog.String("dev_eui", HexUpper(d.DevEUI[:])),
		slog.String("join_eui", HexUpper(d.JoinEUI[:])), slog.String("app_key", maskedKey), slog.String("nwk_key", maskedKey))
}

// MarshalJSON keeps encoding/json from printing the key.
func (d RootKeys) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct{ DevEUI, JoinEUI, AppKey, NwkKey string }{HexUpper(d.DevEUI[:]), HexUpper(d.JoinEUI[:]), maskedKey, maskedKey})
}

// Why a join message led to no session. Each error's text is its label in
// edgeflow_uplink_join_ignored_total{reason="…"}.
var (
	ErrJoinUnknownDevice = errors.New("unknown_device")   // DevEUI not configured for OTAA
	ErrJoinOtherJoinEUI  = errors.New("unknown_join_eui") // configured with another JoinEUI
	ErrJoinMIC           = errors.New("mic_failure")      // the AppKey does not verify the MIC
	ErrJoinNoRequest     = errors.New("no_request")       // accept of no device with a recent request
	ErrNotJoinAccept     = errors.New("not_join_accept")  // another downlink (not counted)
)

var joinIgnoreReasons = []error{ErrJoinUnknownDevice, ErrJoinOtherJoinEUI, ErrJoinMIC, ErrJoinNoRequest}

// Metric names.
const (
	MetricJoins       = "edgeflow_uplink_joins_total"
	MetricJoinIgnored = "edgeflow_uplink_join_ignored_total"
)

// JoinerOptions tune a Joiner; the zero value is ready to use.
type JoinerOptions struct {
	Now func() time.Time // default time.Now
	// RequestTTL is how long a join-request waits for its accept (default
	// 20 s: the accept goes out in RX1 or RX2, 5 or 6 s after the request,
	// and reaches the gateway before; the margin covers slow servers).
	RequestTTL time.Duration
}

const (
	defaultRequestTTL = 20 * time.Second
	maxRequests       = 4    // DevNonces remembered per device
	maxUnknownLogged  = 4096 // DevEUIs remembered as already logged
)

// Joiner learns OTAA sessions: it remembers each configured device's
// join-requests (their DevNonces) and, when the network server's
// join-accept passes by on its way to the gateway, derives the session the
// device will use and gives it to Sessions as pending. It is safe for
// concurrent use.
type Joiner struct {
	s   *Sessions
	log *slog.Logger
	now func() time.Time
	ttl time.Duration

	requests, accepts *metrics.Counter
	ignored           map[error]*metrics.Counter

	mu      sync.Mutex
	devs    map[lorawan.EUI64]*otaaDevice
	reqs    map[lorawan.EUI64][]joinRequest // recent, verified, oldest first
	unknown map[lorawan.EUI64]struct{}      // already logged
}

type otaaDevice struct {
	RootKeys
	app cipher.Block // AppKey: the AppSKey's root
	// root decrypts the join-accept and derives the network key(s):
	// the NwkKey of a 1.1 device, else the AppKey. rootMIC signs the
	// join-request and a 1.0 join-accept; jsInt a 1.1 join-accept.
	root    cipher.Block
	rootMIC cmacKey
	jsInt   cmacKey
	v11     bool
}

func newOTAADevice(d RootKeys) (*otaaDevice, error) {
	app, err := aes.NewCipher(d.AppKey[:])
	if err != nil {
		return nil, err
	}
	o := &otaaDevice{RootKeys: d, app: app, root: app, v11: d.NwkKey != lorawan.AES128Key{}}
	rootKey := d.AppKey
	if o.v11 {
		rootKey = d.NwkKey
		if o.root, err = aes.NewCipher(rootKey[:]); err != nil {
			return nil, err
		}
		var air [8]byte
		for i := range 8 {
			air[i] = d.DevEUI[7-i]
		}
		if o.jsInt, err = newCMACKey(jsIntKey(o.root, air)); err != nil {
			return nil, err
		}
	}
	if o.rootMIC, err = newCMACKey(rootKey); err != nil {
		return nil, err
	}
	return o, nil
}

type joinRequest struct {
	joinEUI  [8]byte // as on the air
	devNonce [2]byte
	at       time.Time
}

// NewJoiner returns a Joiner that adds learnt sessions to s. A nil logger
// discards; a nil set keeps the counters in a private set.
func NewJoiner(s *Sessions, opts JoinerOptions, logger *slog.Logger, set *metrics.Set) *Joiner {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RequestTTL <= 0 {
		opts.RequestTTL = defaultRequestTTL
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	j := &Joiner{
		s: s, log: logger, now: opts.Now, ttl: opts.RequestTTL,
		requests: set.GetOrCreateCounter(MetricJoins + `{type="request"}`),
		accepts:  set.GetOrCreateCounter(MetricJoins + `{type="accept"}`),
		ignored:  map[error]*metrics.Counter{},
		devs:     map[lorawan.EUI64]*otaaDevice{},
		reqs:     map[lorawan.EUI64][]joinRequest{},
		unknown:  map[lorawan.EUI64]struct{}{},
	}
	for _, r := range joinIgnoreReasons {
		j.ignored[r] = set.GetOrCreateCounter(MetricJoinIgnored + `{reason="` + r.Error() + `"}`)
	}
	return j
}

// SetDevices replaces the OTAA devices (a reload). Sessions learnt for a
// device that is no longer listed are dropped; the others are kept, since
// the device keeps using its session whatever the configuration says.
func (j *Joiner) SetDevices(devs []RootKeys) error {
	m := make(map[lorawan.EUI64]*otaaDevice, len(devs))
	for _, d := range devs {
		if _, dup := m[d.DevEUI]; dup {
			return fmt.Errorf("%w: %s", ErrDuplicateDevEUI, d.DevEUI)
		}
		o, err := newOTAADevice(d)
		if err != nil {
			return err
		}
		m[d.DevEUI] = o
	}
	j.mu.Lock()
	j.devs = m
	for e := range j.reqs {
		if m[e] == nil {
			delete(j.reqs, e)
		}
	}
	clear(j.unknown) // a device added since may have been logged unknown
	j.mu.Unlock()
	j.s.retainJoined(func(e lorawan.EUI64) bool { return m[e] != nil })
	return nil
}

// HandleJoinRequest notes a join-request (a 23-byte PHYPayload) of a
// configured device whose MIC verifies with its AppKey (NwkKey for 1.1),
// so that the
// join-accept that answers it can be decrypted. It returns why the request
// was ignored, or nil; ignored requests are counted, and an unknown device
// is logged once at info level.
func (j *Joiner) HandleJoinRequest(gatewayEUI lorawan.EUI64, phy []byte) error {
	if len(phy) != 23 || lorawan.MType(phy[0]>>5) != lorawan.JoinRequest || phy[0]&0x1f != byte(lorawan.LoRaWANR1) {
		return ErrBadFrame
	}
	j.requests.Inc()
	var joinEUI, devEUI lorawan.EUI64
	for i := range 8 { // little-endian on the air
		joinEUI[i], devEUI[i] = phy[8-i], phy[16-i]
	}
	var r joinRequest
	copy(r.joinEUI[:], phy[1:9])
	copy(r.devNonce[:], phy[17:19])
	var mic lorawan.MIC
	copy(mic[:], phy[19:23])

	j.mu.Lock()
	defer j.mu.Unlock()
	d := j.devs[devEUI]
	if d == nil {
		return j.ignore(ErrJoinUnknownDevice, devEUI, joinEUI, gatewayEUI)
	}
	if d.JoinEUI != (lorawan.EUI64{}) && d.JoinEUI != joinEUI {
		return j.ignore(ErrJoinOtherJoinEUI, devEUI, joinEUI, gatewayEUI)
	}
	if d.rootMIC.mic4(phy[:19]) != mic {
		return j.ignore(ErrJoinMIC, devEUI, joinEUI, gatewayEUI)
	}
	now := j.now()
	r.at = now
	rs := j.fresh(devEUI, now)
	for _, x := range rs {
		if x.devNonce == r.devNonce && x.joinEUI == r.joinEUI {
			return nil // heard again (another gateway, a retransmission)
		}
	}
	if len(rs) >= maxRequests {
		rs = rs[1:]
	}
	j.reqs[devEUI] = append(rs, r)
	j.log.Debug("Join-request", "dev_eui", HexUpper(devEUI[:]), "dev_nonce", fmt.Sprintf("%x", r.devNonce),
		"gateway_eui", HexUpper(gatewayEUI[:]))
	return nil
}

// fresh returns the device's requests younger than the TTL; j.mu is held.
func (j *Joiner) fresh(e lorawan.EUI64, now time.Time) []joinRequest {
	rs := j.reqs[e]
	i := 0
	for i < len(rs) && now.Sub(rs[i].at) > j.ttl {
		i++
	}
	rs = append([]joinRequest(nil), rs[i:]...)
	if len(rs) == 0 {
		delete(j.reqs, e)
	}
	return rs
}

// ignore counts and, for a device the agent does not know, logs once.
func (j *Joiner) ignore(reason error, devEUI, joinEUI, gw lorawan.EUI64) error {
	j.ignored[reason].Inc()
	switch reason {
	case ErrJoinUnknownDevice, ErrJoinOtherJoinEUI:
		if _, logged := j.unknown[devEUI]; logged {
			return reason
		}
		if len(j.unknown) >= maxUnknownLogged {
			clear(j.unknown) // bounded: spoofed EUIs must not grow memory
		}
		j.unknown[devEUI] = struct{}{}
		j.log.Info("Join-request of a device not configured for OTAA; its uplinks will not be decoded",
			"dev_eui", HexUpper(devEUI[:]), "join_eui", HexUpper(joinEUI[:]), "reason", reason.Error(), "gateway_eui", HexUpper(gw[:]))
	default:
		j.log.Debug("Join-request ignored", "dev_eui", HexUpper(devEUI[:]), "reason", reason.Error())
	}
	return reason
}

// HandleJoinAccept looks at a downlink PHYPayload on its way to the
// gateway (a PULL_RESP's txpk data, or a gateway bridge's downlink
// command). If it is a join-accept for a configured device with a recent
// join-request, it derives the session (LoRaWAN 1.0.x, or 1.1 when a 1.1
// device and server negotiated it) and adds it to the Sessions as pending:
// it becomes the device's session when an uplink verifies with it. Other
// downlinks return ErrNotJoinAccept.
func (j *Joiner) HandleJoinAccept(gatewayEUI lorawan.EUI64, phy []byte) error {
	if (len(phy) != 17 && len(phy) != 33) || lorawan.MType(phy[0]>>5) != lorawan.JoinAccept {
		return ErrNotJoinAccept
	}
	now := j.now()
	plain := make([]byte, len(phy))
	plain[0] = phy[0]
	j.mu.Lock()
	var sessions []Session
	var dev *otaaDevice
	for e := range j.reqs {
		rs := j.fresh(e, now)
		d := j.devs[e]
		if len(rs) == 0 || d == nil {
			continue
		}
		// The server encrypts with AES decryption, so the device (and we)
		// decrypt with AES encryption, block by block.
		for i := 1; i < len(phy); i += 16 {
			d.root.Encrypt(plain[i:i+16], phy[i:i+16])
		}
		if sessions = d.sessionsFrom(plain, rs); len(sessions) > 0 {
			dev = d
			break
		}
	}
	j.mu.Unlock()
	if dev == nil {
		j.ignored[ErrJoinNoRequest].Inc()
		return ErrJoinNoRequest
	}
	for _, s := range sessions {
		if err := j.s.addPending(s); err != nil {
			return err
		}
	}
	j.accepts.Inc()
	j.log.Info("Join-accept: new session waits for the device's first uplink", "dev_eui", HexUpper(dev.DevEUI[:]),
		"dev_addr", HexUpper(sessions[0].DevAddr[:]), "lorawan_1_1", sessions[0].LoRaWAN11, "gateway_eui", HexUpper(gatewayEUI[:]))
	return nil
}

// sessionsFrom checks a decrypted join-accept against the device's recent
// requests and derives the sessions it may have given; none when the MIC
// does not verify.
//
//	plain: MHDR | JoinNonce(3) NetID(3) DevAddr(4) DLSettings(1) RxDelay(1) [CFList(16)] | MIC(4)
func (d *otaaDevice) sessionsFrom(plain []byte, reqs []joinRequest) []Session {
	n := len(plain) - 4
	mic := lorawan.MIC(plain[n:])
	var joinNonce, netID [3]byte
	copy(joinNonce[:], plain[1:4])
	copy(netID[:], plain[4:7])
	base := Session{DevEUI: d.DevEUI, DevAddr: lorawan.DevAddr{plain[10], plain[9], plain[8], plain[7]}}
	optNeg := plain[11]&0x80 != 0
	var out []Session
	if d.v11 && optNeg {
		// LoRaWAN 1.1: the MIC covers JoinReqType, JoinEUI and DevNonce,
		// so it names the request it answers.
		msg := make([]byte, 0, 11+n)
		for _, r := range reqs {
			msg = append(append(append(msg[:0], 0xff), r.joinEUI[:]...), r.devNonce[:]...)
			if d.jsInt.mic4(append(msg, plain[:n]...)) != mic {
				continue
			}
			s := base
			s.LoRaWAN11 = true
			s.NwkSKey = deriveKey(d.root, keyFNwkSInt, joinNonce, r.joinEUI[:], r.devNonce)
			s.AppSKey = deriveKey(d.app, keyAppS, joinNonce, r.joinEUI[:], r.devNonce)
			return []Session{s}
		}
		return nil
	}
	// LoRaWAN 1.0 (a 1.1 device falls back to it when the server does not
	// set OptNeg; 1.0 devices ignore the bit, RFU to them). The MIC does not
	// say which DevNonce the accept answers: one pending session per recent
	// request, newest first; the first uplink decides.
	if d.rootMIC.mic4(plain[:n]) != mic {
		return nil
	}
	for i := len(reqs) - 1; i >= 0; i-- {
		s := base
		s.NwkSKey = deriveKey(d.root, keyFNwkSInt, joinNonce, netID[:], reqs[i].devNonce)
		s.AppSKey = deriveKey(d.app, keyAppS, joinNonce, netID[:], reqs[i].devNonce)
		out = append(out, s)
	}
	return out
}
