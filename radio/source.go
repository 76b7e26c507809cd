package radio

import "context"

// Source is one place frames come from: a socket the packet forwarder
// sends to, a broker a gateway bridge publishes to. Its constructor (a
// Listen function) binds what must be bound, so that a port in use fails
// the start before "edgeflow started" is logged; Run then serves.
type Source interface {
	// Run serves until ctx ends and returns after releasing its sockets
	// and waiting for its goroutines, so that the handler is not called
	// once Run has returned. The error is nil when ctx ended it.
	Run(ctx context.Context) error
}
