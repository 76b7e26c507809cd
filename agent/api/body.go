package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"edgeflow/config"
)

// maxBody bounds a request body: a connection is a few hundred bytes.
const maxBody = 64 << 10

// required are the keys a PUT must carry: IoT Flow's PUT replaces the whole
// connection, so a body without them is a mistake, not a request to clear them.
var required = []string{"name", "connectorId", "configuration"}

// decodeConnection reads a connection from a request body with the rules of
// the configuration file (unknown keys with the nearest known one, brands,
// URLs), after putting back the stored secrets a client sent masked.
// stored is the connection being replaced, nil for a POST. The returned
// connection's ID is the body's, "" when it gives none.
// caDir is api.caFileDir.
func decodeConnection(r io.Reader, stored *config.Connection, whole bool, caDir string) (config.Connection, []config.Warning, *apiError) {
	data, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return config.Connection{}, nil, badRequest("cannot read the body: %v", err)
	}
	if len(data) > maxBody {
		return config.Connection{}, nil, badRequest("the body is larger than %d bytes", maxBody)
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return config.Connection{}, nil, badRequest("the body is not a JSON object: %s", jsonError(data, err))
	}
	if body == nil {
		return config.Connection{}, nil, badRequest("the body is not a JSON object: null")
	}
	if dec.More() {
		return config.Connection{}, nil, badRequest("the body holds more than one JSON value")
	}
	// The read-only keys of a GET answer sent back (state, counters, IoT
	// Flow's history) go on to the file's decoder, which drops them with
	// one warning (config.ReadOnlyConnectionKeys).
	var probs []Problem
	if whole {
		for _, k := range required {
			if body[k] == nil {
				probs = append(probs, Problem{Path: k, Message: fmt.Sprintf("%s is missing: PUT replaces the whole connection; send it as GET /connections/{id} shows it, changed", k)})
			}
		}
	}
	var storedTree map[string]any
	if stored != nil {
		storedTree = toTree(*stored)
	}
	var restored []string
	probs = append(probs, restoreTree(body, storedTree, "", &restored)...)
	if p := checkCAFile(body, stored, caDir); p != nil {
		probs = append(probs, *p)
	}
	if len(probs) > 0 {
		return config.Connection{}, nil, invalid(probs)
	}
	id, _ := body["id"].(string)
	delete(body, "id") // ids are checked against the whole list by the caller
	// Every JSON object is YAML: the file's decoder reads the body, so a
	// technician gets the same messages from the API as from the file.
	clean, err := json.Marshal(body)
	if err != nil {
		return config.Connection{}, nil, badRequest("%v", err)
	}
	cfg, warns, err := config.Parse(append([]byte("connections:\n  - "), clean...), "")
	var cerr *config.Error
	if errors.As(err, &cerr) {
		return config.Connection{}, nil, invalid(fromConfig(cerr.Problems, "connections[0]"))
	}
	if err != nil {
		return config.Connection{}, nil, badRequest("%v", err)
	}
	if len(cfg.Connections) != 1 {
		return config.Connection{}, nil, badRequest("the body is not one connection")
	}
	c := cfg.Connections[0]
	c.ID = id
	if stored != nil && len(restored) > 0 {
		if from, to := stored.Destination(), c.Destination(); from != to {
			// The masks stand for secrets given to the stored destination:
			// sending them elsewhere would hand them to whoever runs it.
			return config.Connection{}, nil, invalid(retype(restored, from, to))
		}
	}
	return c, relWarnings(warns, "connections[0]"), nil
}

// checkCAFile refuses a caFile outside api.caFileDir before anything
// reads it: the agent runs as root, and the API must not become a way to
// read its files, block it on a FIFO or learn which files exist. A caFile
// the connection already has (from the file) may stay.
func checkCAFile(body map[string]any, stored *config.Connection, dir string) *Problem {
	cfg, _ := body["configuration"].(map[string]any)
	ca, _ := cfg["caFile"].(string)
	if ca == "" || stored != nil && ca == stored.Configuration.CAFile || config.CAFileUnder(ca, dir) {
		return nil
	}
	msg := "caFile cannot be set through the API, which runs as root and would read any file; name it in the configuration file, or set api.caFileDir to the directory of your CA files"
	if dir != "" {
		msg = fmt.Sprintf("caFile must name a file under %s (api.caFileDir)", dir)
	}
	return &Problem{Path: "configuration.caFile", Message: msg}
}

// retype asks for each secret kept behind a mask to be typed again, as
// the connection now sends somewhere else.
func retype(paths []string, from, to string) []Problem {
	slices.Sort(paths)
	probs := make([]Problem, len(paths))
	for i, p := range paths {
		probs[i] = Problem{Path: p, Message: fmt.Sprintf("the connection now sends to %s instead of %s: the stored secret here is not sent to a new destination; type it again (instead of %q)", to, from, Mask)}
	}
	return probs
}

// toTree is a connection in its JSON form, for masking and restoring.
func toTree(c config.Connection) map[string]any {
	b, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// jsonError says where a body stops being JSON.
func jsonError(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("line %d: %v", line, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected an object, got %s", te.Value)
	}
	return err.Error()
}

// fromConfig turns the configuration's problems into the API's, with paths
// relative to the connection at prefix (e.g. "connections[2]").
func fromConfig(ps []config.Problem, prefix string) []Problem {
	out := make([]Problem, 0, len(ps))
	for _, p := range ps {
		out = append(out, Problem{Path: relPath(p.Path, prefix), Message: p.Msg})
	}
	return out
}

func relWarnings(ws []config.Warning, prefix string) []config.Warning {
	var out []config.Warning
	for _, w := range ws {
		if w.Path != prefix && !strings.HasPrefix(w.Path, prefix+".") {
			continue // about the rest of the one-connection document, not the request
		}
		w.Path = relPath(w.Path, prefix)
		w.Line, w.Column = 0, 0
		out = append(out, w)
	}
	return out
}

func relPath(path, prefix string) string {
	switch {
	case path == prefix:
		return ""
	case strings.HasPrefix(path, prefix+"."):
		return path[len(prefix)+1:]
	}
	return path
}
