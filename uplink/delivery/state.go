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

// Status is what the status API shows of one connection.
type Status struct {
	ID            string
	Name          string
	State         string
	LastDelivery  time.Time
	LastError     string
	LastErrorTime time.Time
	Delivered     uint64
	Backlog       int       // uplinks waiting (memory and flash)
	BacklogBytes  int64     // bytes on flash
	Oldest        time.Time // reception time of the oldest waiting uplink
	DeadLetters   int
}
