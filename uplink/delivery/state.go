package delivery

import "time"

// Connection states, as ThingPark X IoT Flow names them.
const (
	StateOpening              = "OPENING"
	StateOpened               = "OPENED"
	StateClosed               = "CLOSED"
	StateUnreachable          = "UNREACHABLE"
	StateAuthenticationFailed = "AUTHENTICATION_FAILED"
	StateDeactivated          = "DEACTIVATED"
)

// Reasons of a failing connection (Status.Reason).
const (
	ReasonRefused  = "endpoint answers but refuses the uplinks"
	ReasonErrors   = "endpoint answers with errors"
	ReasonNoAnswer = "no answer from the endpoint"
)

// Status is what the status API shows of one connection.
type Status struct {
	ID            string
	Name          string
	State         string
	LastDelivery  time.Time
	LastError     string
	LastErrorTime time.Time
	// Reason says in words why a failing connection fails: the endpoint
	// answers but refuses the uplinks (ReasonRefused), answers with
	// errors, or does not answer. "" while it delivers.
	Reason       string
	Delivered    uint64
	Backlog      int       // uplinks waiting (memory and flash)
	BacklogBytes int64     // bytes on flash
	Oldest       time.Time // reception time of the oldest waiting uplink
	DeadLetters  int
}
