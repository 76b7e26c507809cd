package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"
)

// startAPI binds the local API. A bind failure stops the start: an agent
// whose status cannot be read is one a technician cannot fix.
func (a *Agent) startAPI() error {
	if a.config().API.Bind == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.config().API.Bind)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.handleHealthz)
	mux.HandleFunc("GET /metrics", a.handleMetrics)
	mux.HandleFunc("GET /status", a.handleStatus)
	a.api = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.apiAddr = ln.Addr()
	go func() {
		if err := a.api.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("local API stopped", "err", err)
		}
	}()
	return nil
}

func (a *Agent) stopAPI(ctx context.Context) {
	if a.api != nil {
		_ = a.api.Shutdown(ctx)
	}
}

func (a *Agent) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (a *Agent) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	a.set.WritePrometheus(w)
}

func (a *Agent) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Status())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
