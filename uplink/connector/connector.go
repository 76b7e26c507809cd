package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"edgeflow/config"
	"edgeflow/uplink"
)

// Connector sends uplinks to one connection's endpoint. Send is called by a
// single goroutine per connection, in order.
type Connector interface {
	// Send delivers u; late marks an uplink delivered from the backlog.
	// A nil error means the endpoint accepted it (HTTP 2xx).
	Send(ctx context.Context, u *uplink.Uplink, late bool) error
	// Close releases idle connections.
	Close()
}

// Batcher is a Connector that can have several uplinks in flight at once
// (HTTP/2 streams or several HTTP/1.1 connections): an endpoint 200 ms
// away takes a batch per round trip instead of one uplink.
type Batcher interface {
	Connector
	// SendBatch sends ups in order and sets errs[i] to the outcome of
	// ups[i] (nil: the endpoint accepted it). len(errs) == len(ups), and
	// len(ups) <= MaxBatch(). Like Send, it is called by one goroutine.
	SendBatch(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error)
	// MaxBatch is the most uplinks one SendBatch takes (at least 1).
	MaxBatch() int
}

// Kind tells the delivery engine what to do with a failed uplink.
type Kind int

const (
	// Retry: the endpoint or the network failed; keep the uplink and retry.
	Retry Kind = iota
	// Reject: the endpoint refused this uplink (a 4xx other than 408/429);
	// retrying the same request cannot succeed, so it goes to dead letters.
	Reject
	// Unauthorized: 401/403. It may be this uplink (a per-device rule, a
	// WAF) or every uplink (credentials): the lane probes with another
	// uplink; if that one is accepted this one goes to dead letters,
	// otherwise the connection shows AUTHENTICATION_FAILED and keeps it.
	Unauthorized
	// Refused: 404 or 413. As for Unauthorized, a probe tells one bad
	// uplink (dead letters) from a wrong URL (the connection fails and
	// keeps its uplinks).
	Refused
)

// Error is a failed delivery.
type Error struct {
	Kind Kind
	// Status is the HTTP status, 0 for network errors.
	Status int
	// RetryAfter is the endpoint's Retry-After, 0 when it gave none.
	RetryAfter time.Duration
	// Reason is a short snake_case label for metrics ("http_503", "timeout", "connection_refused"…).
	Reason string
	Err    error
}

// Error is redacted (config.Redact): Go's HTTP client and paho quote the
// whole URL, credentials included, and this text reaches logs, /status
// and the event stream.
func (e *Error) Error() string {
	if e.Status != 0 && (e.Status < 300 || e.Status >= 400) { // a redirect's words say it
		return config.Redact(fmt.Sprintf("endpoint answered %d: %v", e.Status, e.Err))
	}
	return config.Redact(e.Err.Error())
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns err as *Error, treating any other error as a retryable one.
func AsError(err error) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	return &Error{Kind: Retry, Reason: "error", Err: err}
}
