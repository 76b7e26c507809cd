package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"edgeflow/config"
)

// Connection is a connection object as answers show it: IoT Flow's fields
// with secrets masked, then edgeflow's delivery state.
type Connection struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	ConnectorID   string         `json:"connectorId"`
	Brand         string         `json:"brand,omitempty"`
	Active        bool           `json:"active"`
	Configuration map[string]any `json:"configuration"`
	ConnectionState
}

// Headers of a change's answer.
const (
	// HeaderSaved names the file a change was written to, or says
	// "memory" when the agent runs on built-in defaults: the change then
	// lasts until the agent stops.
	HeaderSaved = "X-Edgeflow-Saved"
	// HeaderWarning carries each warning about the accepted change (e.g. a
	// CAYENNE connection pointed at another URL), one header each.
	HeaderWarning = "X-Edgeflow-Warning"
)

func (s *Server) view(c config.Connection, states map[string]ConnectionState) Connection {
	tree := toTree(c)
	cfg, _ := tree["configuration"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{}
	}
	maskTree(cfg)
	st, ok := states[c.ID]
	if !ok {
		st.State = "OPENING" // applied a moment ago; delivery has not reported yet
		if !c.IsActive() {
			st.State = "DEACTIVATED"
		}
	}
	return Connection{ID: c.ID, Name: c.Name, ConnectorID: c.ConnectorID, Brand: c.Brand, Active: c.IsActive(),
		Configuration: cfg, ConnectionState: st}
}

func (s *Server) handleList(w http.ResponseWriter, _ *http.Request) {
	states := s.b.ConnectionStates()
	out := []Connection{}
	for _, c := range s.b.Config().Connections {
		out = append(out, s.view(c, states))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	i := find(s.b.Config().Connections, id)
	if i < 0 {
		writeError(w, unknownID(id))
		return
	}
	writeJSON(w, http.StatusOK, s.view(s.b.Config().Connections[i], s.b.ConnectionStates()))
}

// handleCreate is IoT Flow's POST /connections: 201, Location and the
// created object with its id and state.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	c, warns, aerr := decodeConnection(r.Body, nil, false, s.opts.CAFileDir)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var at int
	up, err := s.b.UpdateConnections(r.Context(), func(conns []config.Connection) ([]config.Connection, error) {
		at = len(conns)
		return append(conns, c), nil
	})
	if s.failed(w, r, err, at) {
		return
	}
	created := up.Connections[at]
	s.log.Info("connection created through the API", "connection", created.Name, "id", created.ID, "saved", savedWhere(up))
	s.changed(w, up, warns, at)
	w.Header().Set("Location", "/connections/"+created.ID)
	writeJSON(w, http.StatusCreated, s.view(created, s.b.ConnectionStates()))
}

// handleReplace is IoT Flow's PUT: the whole connection again. A partial
// body is refused, so that a forgotten field is never silently cleared.
func (s *Server) handleReplace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	conns := s.b.Config().Connections
	i := find(conns, id)
	if i < 0 {
		writeError(w, unknownID(id))
		return
	}
	stored := conns[i]
	c, warns, aerr := decodeConnection(r.Body, &stored, true, s.opts.CAFileDir)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if c.ID != "" && c.ID != id {
		writeError(w, invalid([]Problem{{Path: "id", Message: fmt.Sprintf("the body's id %q is not the URL's %q; an id cannot change (create a new connection instead)", c.ID, id)}}))
		return
	}
	c.ID = id // kept across renames: it names the queue and the URL
	var at int
	up, err := s.b.UpdateConnections(r.Context(), func(conns []config.Connection) ([]config.Connection, error) {
		if at = find(conns, id); at < 0 {
			return nil, errGone
		}
		conns[at] = c
		return conns, nil
	})
	if s.failed(w, r, err, at) {
		return
	}
	s.log.Info("connection replaced through the API", "connection", c.Name, "id", id, "saved", savedWhere(up))
	s.changed(w, up, warns, at)
	writeJSON(w, http.StatusOK, s.view(up.Connections[at], s.b.ConnectionStates()))
}

// handleDelete removes a connection: delivery to it stops at once and its
// undelivered uplinks are discarded (the count is logged).
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var name string
	up, err := s.b.UpdateConnections(r.Context(), func(conns []config.Connection) ([]config.Connection, error) {
		i := find(conns, id)
		if i < 0 {
			return nil, errGone
		}
		name = conns[i].Name
		return slices.Delete(conns, i, i+1), nil
	})
	if s.failed(w, r, err, -1) {
		return
	}
	s.log.Info("connection deleted through the API", "connection", name, "id", id, "saved", savedWhere(up))
	s.changed(w, up, nil, -1)
	w.WriteHeader(http.StatusNoContent)
}

// errGone: the connection went between the request's read and its change.
var errGone = errors.New("no such connection")

// failed answers a refused change and reports whether there was one. at is
// the index of the connection the request is about, -1 for none.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, err error, at int) bool {
	if err == nil {
		return false
	}
	var cerr *config.Error
	switch {
	case errors.Is(err, errGone):
		writeError(w, unknownID(r.PathValue("id")))
	case errors.As(err, &cerr):
		// Paths are relative to the connection the request is about; a
		// problem of another connection (a name now used twice) keeps its
		// full path.
		writeError(w, invalid(fromConfig(cerr.Problems, fmt.Sprintf("connections[%d]", at))))
	default:
		s.log.Error("connection change failed", "request", describe(r), "err", err)
		writeError(w, &apiError{code: http.StatusInternalServerError, Message: err.Error()})
	}
	return true
}

// changed sets the headers every accepted change carries. Its warnings
// are the written connection's own: another connection's (and its URL)
// is none of this request's business.
func (s *Server) changed(w http.ResponseWriter, up Update, warns []config.Warning, _ int) {
	w.Header().Set(HeaderSaved, savedWhere(up))
	for _, wn := range warns {
		w.Header().Add(HeaderWarning, config.Redact(Problem{Path: wn.Path, Message: wn.Msg}.String()))
	}
}

func savedWhere(up Update) string {
	if up.Saved == "" {
		return "memory"
	}
	return up.Saved
}

// String is the problem as one line, for headers and logs.
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

func find(conns []config.Connection, id string) int {
	for i, c := range conns {
		if c.ID == id {
			return i
		}
	}
	return -1
}

func unknownID(id string) *apiError {
	return notFound("no connection has id %q; GET /connections lists them", id)
}
