package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// UplinkEvent is the "uplink" event: an uplink as it arrives.
type UplinkEvent struct {
	DevEUI     string    `json:"devEUI"`
	DevAddr    string    `json:"devAddr"`
	FCnt       uint32    `json:"fCnt"`
	FPort      uint8     `json:"fPort"`
	Time       time.Time `json:"time"` // reception
	RSSI       float64   `json:"rssi"`
	SNR        float64   `json:"snr"`
	PayloadHex string    `json:"payloadHex"`
	Gateway    string    `json:"gateway"` // EUI of the best reception
	Readings   []Reading `json:"readings,omitempty"`
}

// DeliveryEvent is the "delivery" event: the outcome of one attempt to
// deliver an uplink to one connection.
type DeliveryEvent struct {
	DevEUI       string `json:"devEUI"`
	FCnt         uint32 `json:"fCnt"`
	Connection   string `json:"connection"` // its name
	ConnectionID string `json:"connectionId"`
	OK           bool   `json:"ok"`
	Late         bool   `json:"late"`
	Error        string `json:"error,omitempty"`
}

// RejectedEvent is the "rejected" event: a frame of a configured device
// that was refused (wrong key, counter gone back), with what to check.
type RejectedEvent struct {
	DevEUI  string    `json:"devEUI"`
	DevAddr string    `json:"devAddr"`
	Reason  string    `json:"reason"` // mic_failure, fcnt_replay
	Hint    string    `json:"hint"`
	FCnt16  uint16    `json:"fCnt16"`
	Time    time.Time `json:"time"`
	RSSI    float64   `json:"rssi"`
	SNR     float64   `json:"snr"`
	Gateway string    `json:"gateway"`
}

// Event is one event of the stream, for a replay.
type Event struct {
	Name string
	Data any
}

// Hub fans events out to the /events streams. Publish never blocks: a
// subscriber whose buffer is full misses the event (and is told how many it
// missed), because the uplink path must not wait for a slow browser.
type Hub struct {
	maxSubs int
	subs    atomic.Int32 // read without the lock on every uplink
	dropped atomic.Uint64

	mu     sync.Mutex
	set    map[*subscriber]struct{}
	closed bool
	recent func() []Event // see SetRecent
}

// SetRecent gives the hub what a new stream gets first: the last uplinks
// and their deliveries, so that a page opened after them shows them.
func (h *Hub) SetRecent(fn func() []Event) {
	h.mu.Lock()
	h.recent = fn
	h.mu.Unlock()
}

type subscriber struct {
	ch     chan event
	missed atomic.Uint64
}

type event struct {
	name string
	data []byte
}

// subBuffer is how many events a subscriber may lag behind: a burst of a
// gateway's uplinks times its connections, a few seconds' worth.
const subBuffer = 256

// NewHub returns a hub that accepts up to maxSubs streams at once (each
// holds a buffer); 0 means 8.
func NewHub(maxSubs int) *Hub {
	if maxSubs <= 0 {
		maxSubs = 8
	}
	return &Hub{maxSubs: maxSubs, set: map[*subscriber]struct{}{}}
}

// Active tells whether anyone listens, so publishers skip building events
// nobody reads.
func (h *Hub) Active() bool { return h != nil && h.subs.Load() > 0 }

// Dropped counts the events subscribers missed.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Publish sends an event named name with v as its JSON data.
func (h *Hub) Publish(name string, v any) {
	if !h.Active() {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	ev := event{name: name, data: data}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.set {
		select {
		case s.ch <- ev:
		default:
			s.missed.Add(1)
			h.dropped.Add(1)
		}
	}
}

func (h *Hub) subscribe() (*subscriber, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.set) >= h.maxSubs {
		return nil, false
	}
	s := &subscriber{ch: make(chan event, subBuffer)}
	h.set[s] = struct{}{}
	h.subs.Add(1)
	return s, true
}

func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.set[s]; ok {
		delete(h.set, s)
		h.subs.Add(-1)
		close(s.ch)
	}
}

// Close ends every stream; later subscriptions are refused.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.set {
		delete(h.set, s)
		h.subs.Add(-1)
		close(s.ch)
	}
}

// keepAlive is how often an idle stream gets a comment line, so proxies and
// browsers do not close it and a dead client is noticed.
const keepAlive = 15 * time.Second

// handleEvents is GET /events: server-sent events, "uplink" and
// "delivery", plus "missed" with {"missed": N} after events were dropped.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	h := s.opts.Events
	if h == nil {
		writeError(w, notFound("events are not available"))
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, &apiError{code: http.StatusInternalServerError, Message: "streaming is not supported here"})
		return
	}
	sub, ok := h.subscribe()
	if !ok {
		writeError(w, &apiError{code: http.StatusServiceUnavailable, Message: fmt.Sprintf("too many event streams are open (at most %d); close one", h.maxSubs)})
		return
	}
	defer h.unsubscribe(sub)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": edgeflow events\nretry: 3000\n\n")
	// What happened before the stream opened, after subscribing so that
	// nothing falls between; an event in both is sent twice, and the
	// page keys uplinks by DevEUI and FCnt.
	h.mu.Lock()
	recent := h.recent
	h.mu.Unlock()
	if recent != nil {
		for _, ev := range recent() {
			if data, err := json.Marshal(ev.Data); err == nil {
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Name, data)
			}
		}
	}
	fl.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	var told uint64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case ev, ok := <-sub.ch:
			if !ok {
				return // the hub closed: the server is stopping
			}
			if m := sub.missed.Load(); m > told {
				fmt.Fprintf(w, "event: missed\ndata: {\"missed\":%d}\n\n", m-told)
				told = m
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data); err != nil {
				return
			}
		}
		fl.Flush()
	}
}
