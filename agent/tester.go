package agent

import (
	"errors"

	"edgeflow/config"
	"edgeflow/uplink/connector"
)

// NewConnector builds one connection's connector as the running agent
// builds it (URL, headers, patterns, timeouts), active or not, so that
// `edgeflow connections test` checks what delivery would really send.
func NewConnector(cfg *config.Config, c config.Connection, opts Options) (connector.Connector, error) {
	a, err := New(cfg, opts)
	if err != nil {
		return nil, err
	}
	on := true
	c.Active = &on
	conns, err := a.connections([]config.Connection{c})
	if err != nil {
		return nil, err
	}
	if len(conns) != 1 {
		return nil, errors.New("no connector was built")
	}
	return conns[0].Connector, nil
}
