package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/agent"
	"edgeflow/agent/api"
	"edgeflow/config"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

const connectionsUsage = `usage: edgeflow connections test NAME --dev-eui EUI --payload HEX [--fport N] [--config FILE]

Sends one test uplink through the connection's connector, as delivery
would, and prints what the endpoint answered and how long it took.
The test uplink is a standard DevEUI_uplink document with FCntUp 0 and
Late 0, sent with the header "X-Edgeflow-Test: 1".
`

func cmdConnections(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprint(stderr, connectionsUsage)
		return 2
	}
	return cmdConnectionsTest(args[1:], stdout, stderr)
}

func cmdConnectionsTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("connections test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default "+defaultConfigPath+" when it exists)")
	devEUI := fs.String("dev-eui", "", "the DevEUI the test uplink carries (16 hex digits)")
	payload := fs.String("payload", "", "the decrypted payload, in hex (e.g. Cayenne LPP 0167010e)")
	fport := fs.Uint("fport", 1, "the FPort (1-223)")
	// The name comes first on the command line, before the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	if name == "" || *devEUI == "" {
		fmt.Fprint(stderr, connectionsUsage)
		return 2
	}
	up, err := testUplink(*devEUI, *payload, *fport)
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow: %v\n", err)
		return 2
	}
	cfg, err := clientConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow: %v\n", err)
		return 1
	}
	c, ok := findConnection(cfg.Connections, name)
	if !ok {
		var names []string
		for _, c := range cfg.Connections {
			names = append(names, strconv.Quote(c.Name))
		}
		fmt.Fprintf(stderr, "edgeflow: no connection is named %q; the configuration has: %s\n", name, strings.Join(names, ", "))
		return 1
	}
	for _, d := range cfg.Devices {
		if d.DevEUI == up.DevEUI && d.ABP {
			up.DevAddr = d.DevAddr
		}
	}
	if cfg.Gateway.ID != "" {
		if b, err := hex.DecodeString(cfg.Gateway.ID); err == nil && len(b) == 8 {
			copy(up.Receptions[0].GatewayEUI[:], b)
		}
	}
	// The mark goes in a header, so the document stays what the endpoint
	// expects; FCntUp 0 makes it plain in the cloud's data too.
	headers := map[string]string{"X-Edgeflow-Test": "1"}
	for k, v := range c.Configuration.Headers {
		headers[k] = v
	}
	c.Configuration.Headers = headers
	roots := &fallbackRoots{}
	conn, err := agent.NewConnector(cfg, c, agent.Options{Version: version, TLSRoots: roots.ensure})
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow: %v\n", err)
		return 1
	}
	defer conn.Close()
	fmt.Fprintf(stdout, "connection %q (%s) → %s\n", c.Name, c.ConnectorID, destination(c))
	fmt.Fprintf(stdout, "test uplink: DevEUI %s, FPort %d, FCntUp 0, payload %s\n", strings.ToUpper(up.DevEUI.String()), up.FPort, dash(hex.EncodeToString(up.Payload)))
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Delivery.Timeout.Std()+5*time.Second)
	defer cancel()
	start := time.Now()
	err = conn.Send(ctx, up, false)
	rtt := time.Since(start).Round(time.Millisecond)
	return reportTest(stdout, err, rtt)
}

// reportTest says what the endpoint did, in the terms delivery uses.
func reportTest(w io.Writer, err error, rtt time.Duration) int {
	if err == nil {
		fmt.Fprintf(w, "accepted: the endpoint answered 2xx in %s; uplinks will be delivered\n", rtt)
		return 0
	}
	ce := connector.AsError(err)
	msg := config.Redact(ce.Error()) // the screen may be shared; the key is in the file
	switch ce.Kind {
	case connector.Reject:
		fmt.Fprintf(w, "refused in %s: %s\n(delivery would set such an uplink aside as a dead letter)\n", rtt, msg)
	case connector.Unauthorized:
		fmt.Fprintf(w, "not authorised in %s: %s\n(check the credentials: headers, the key in the URL; if only some devices are refused, delivery sets their uplinks aside as dead letters)\n", rtt, msg)
	case connector.Refused:
		fmt.Fprintf(w, "refused in %s: %s\n(if every uplink is refused, check destinationURL; if only some are, delivery sets them aside as dead letters)\n", rtt, msg)
	default:
		fmt.Fprintf(w, "failed in %s: %s\n(delivery would keep such uplinks and retry)\n", rtt, msg)
	}
	return 1
}

func testUplink(devEUI, payload string, fport uint) (*uplink.Uplink, error) {
	var eui lorawan.EUI64
	if err := eui.UnmarshalText([]byte(strings.TrimSpace(devEUI))); err != nil {
		return nil, fmt.Errorf("--dev-eui %q: 16 hex digits expected", devEUI)
	}
	data, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(payload), " ", ""))
	if err != nil {
		return nil, fmt.Errorf("--payload %q is not hex", payload)
	}
	if fport < 1 || fport > 223 {
		return nil, fmt.Errorf("--fport %d: application ports are 1 to 223", fport)
	}
	return &uplink.Uplink{DevEUI: eui, MType: lorawan.UnconfirmedDataUp, FPort: uint8(fport), Payload: data,
		ReceivedAt: time.Now(), Frequency: 868.1, SF: 7, DataRate: "SF7BW125",
		Receptions: []uplink.Reception{{RSSI: -50, SNR: 10}}}, nil
}

// findConnection matches a name exactly, then ignoring case, then the id.
func findConnection(conns []config.Connection, name string) (config.Connection, bool) {
	for _, c := range conns {
		if c.Name == name {
			return c, true
		}
	}
	for _, c := range conns {
		if strings.EqualFold(c.Name, name) || c.ID == name {
			return c, true
		}
	}
	return config.Connection{}, false
}

// destination shows where the test goes without its credentials.
func destination(c config.Connection) string {
	u := c.URL()
	if c.ConnectorID == config.ConnectorMQTT {
		u = strings.ToLower(c.Configuration.MQTTProtocol()) + "://" + c.Configuration.HostName
	}
	if u == "" {
		return "(no URL)"
	}
	return config.RedactURL(u)
}

// cmdDeadLetters is `edgeflow buffer deadletters list|replay`: the uplinks
// endpoints refused, through the running agent's API (the agent holds the
// buffer file open).
func cmdDeadLetters(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: edgeflow buffer deadletters list|replay [--connection NAME] [--seq N,N…] [--config FILE] [--api ADDR]\n"
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("buffer deadletters", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("api", "", "the agent's API address (default: api.bind of the configuration)")
	path := fs.String("config", "", "configuration file (default "+defaultConfigPath+" when it exists)")
	only := fs.String("connection", "", "only this connection (name or id)")
	seqList := fs.String("seq", "", "replay only these dead letters (comma-separated seqs)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	c, err := newAPIClient(*addr, *path, stderr)
	if err == nil {
		err = deadLetters(c, verb, *only, *seqList, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow: %v\n", err)
		return 1
	}
	return 0
}

func deadLetters(c *apiClient, verb, only, seqList string, w io.Writer) error {
	var conns []api.Connection
	if err := c.do("GET", "/connections", nil, &conns); err != nil {
		return err
	}
	var seqs []uint64
	for _, s := range strings.Split(seqList, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("--seq %q: not a number", s)
		}
		seqs = append(seqs, n)
	}
	matched := false
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	if verb == "list" {
		fmt.Fprintln(tw, "CONNECTION\tSEQ\tRECEIVED\tSET ASIDE\tDEVEUI\tFCNT\tREASON")
	}
	for _, cn := range conns {
		if only != "" && only != cn.Name && only != cn.ID {
			continue
		}
		matched = true
		if verb == "replay" {
			var res api.ReplayResult
			if err := c.do("POST", "/connections/"+cn.ID+"/deadletters/replay", api.ReplayRequest{Seqs: seqs}, &res); err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%d replayed\n", cn.Name, res.Replayed)
			continue
		}
		var dls []api.DeadLetter
		if err := c.do("GET", "/connections/"+cn.ID+"/deadletters", nil, &dls); err != nil {
			return err
		}
		for _, d := range dls {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\n", cn.Name, d.Seq, d.Time.Local().Format(time.DateTime), d.At.Local().Format(time.DateTime), dash(d.DevEUI), d.FCnt, d.Reason)
		}
	}
	if only != "" && !matched {
		return errors.New("no connection is named " + strconv.Quote(only))
	}
	return nil
}
