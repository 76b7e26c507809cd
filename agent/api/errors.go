package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Problem is one thing wrong with a request: the field's path in the
// connection object ("configuration.destinationURL") and what to do.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// apiError is every error answer: {"error": "...", "problems": [...]}.
type apiError struct {
	code     int
	Message  string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{code: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

// invalid is a 400 listing every problem; its message repeats them, so a
// client that shows only "error" still shows the reason.
func invalid(probs []Problem) *apiError {
	lines := make([]string, len(probs))
	for i, p := range probs {
		if p.Path == "" {
			lines[i] = p.Message
		} else {
			lines[i] = p.Path + ": " + p.Message
		}
	}
	return &apiError{code: http.StatusBadRequest, Message: strings.Join(lines, "; "), Problems: probs}
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.code, e)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // URLs with & stay readable
	_ = enc.Encode(v)
}
