package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// handleDeadLetters is GET /connections/{id}/deadletters: the uplinks the
// endpoint refused (a 4xx other than 401, 403, 408 and 429), oldest first.
func (s *Server) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if find(s.b.Config().Connections, id) < 0 {
		writeError(w, unknownID(id))
		return
	}
	dls, err := s.b.DeadLetters(id)
	if err != nil {
		writeError(w, &apiError{code: http.StatusInternalServerError, Message: err.Error()})
		return
	}
	if dls == nil {
		dls = []DeadLetter{}
	}
	writeJSON(w, http.StatusOK, dls)
}

// ReplayRequest is the body of POST /connections/{id}/deadletters/replay;
// an empty body or no seqs replays every dead letter.
type ReplayRequest struct {
	Seqs []uint64 `json:"seqs"`
}

// ReplayResult answers a replay.
type ReplayResult struct {
	Replayed int `json:"replayed"`
}

// handleReplay queues dead letters again, at the tail of the connection's
// queue with their original reception time (so they go out Late: 1).
func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if find(s.b.Config().Connections, id) < 0 {
		writeError(w, unknownID(id))
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, badRequest("cannot read the body: %v", err))
		return
	}
	var req ReplayRequest
	if strings.TrimSpace(string(data)) != "" {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, badRequest("the body must be {} or {\"seqs\": [1, 2]}: %v", err))
			return
		}
	}
	var seqs []uint64
	if len(req.Seqs) > 0 {
		seqs = req.Seqs
	}
	n, err := s.b.ReplayDeadLetters(id, seqs)
	if err != nil {
		writeError(w, &apiError{code: http.StatusInternalServerError, Message: err.Error()})
		return
	}
	s.log.Info("dead letters replayed through the API", "id", id, "replayed", n)
	writeJSON(w, http.StatusOK, ReplayResult{Replayed: n})
}
