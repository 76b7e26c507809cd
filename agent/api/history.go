package api

import (
	"net/http"
	"strconv"
	"time"
)

// Reading is one decoded value of a device's payload (Cayenne LPP), for
// people: the endpoints get the payload unchanged.
type Reading struct {
	Channel uint8   `json:"channel"`
	Type    string  `json:"type"` // the LPP type, e.g. "gps"
	Name    string  `json:"name"` // the quantity, e.g. "latitude"
	Value   float64 `json:"value"`
	Unit    string  `json:"unit,omitempty"`
	Text    string  `json:"text"` // "temperature 23.7 °C", to the type's resolution
}

// History is GET /history: what the page's charts draw. Values are per
// step (seconds), oldest first, the first one for the step that starts at
// Start.
type History struct {
	Now         time.Time       `json:"now"`
	Start       time.Time       `json:"start"`
	Step        int             `json:"step"`
	Devices     []HistorySeries `json:"devices"`
	Gateways    []HistorySeries `json:"gateways"`
	Connections []HistorySeries `json:"connections"`
}

// HistorySeries is one device, gateway or connection.
type HistorySeries struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Uplinks per step (devices and gateways).
	Uplinks []int64 `json:"uplinks,omitempty"`
	// Backlog is the highest backlog sampled in each step, null where
	// none was (connections).
	Backlog []*int64 `json:"backlog,omitempty"`
	// Signal is each recent uplink as [unix seconds, RSSI dBm, SNR dB]
	// (devices).
	Signal [][3]float64 `json:"signal,omitempty"`
}

// HistoryBackend is implemented by a backend that keeps history; GET
// /history answers 404 otherwise.
type HistoryBackend interface {
	// History covers the last minutes (0: all that is kept).
	History(minutes int) History
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	hb, ok := s.b.(HistoryBackend)
	if !ok {
		writeError(w, &apiError{code: http.StatusNotFound, Message: "this agent keeps no history"})
		return
	}
	minutes := 0
	if v := r.URL.Query().Get("minutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, &apiError{code: http.StatusBadRequest, Message: "minutes must be a whole number above 0"})
			return
		}
		minutes = n
	}
	h := hb.History(minutes)
	for _, l := range []*[]HistorySeries{&h.Devices, &h.Gateways, &h.Connections} {
		if *l == nil {
			*l = []HistorySeries{}
		}
	}
	writeJSON(w, http.StatusOK, h)
}
