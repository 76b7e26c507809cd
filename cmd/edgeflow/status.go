package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"edgeflow/agent/api"
	"edgeflow/config"
)

// apiClient talks to a running agent's local API.
type apiClient struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

// newAPIClient finds the API from --api or the configuration's api.bind,
// with the configuration's token. A bind on every interface (0.0.0.0, [::])
// is reached on loopback.
func newAPIClient(addr, cfgPath string, stderr io.Writer) (*apiClient, error) {
	c := &apiClient{http: &http.Client{Timeout: 15 * time.Second}}
	cfg, err := clientConfig(cfgPath)
	var invalid *invalidConfig
	switch {
	case errors.As(err, &invalid):
		// Exactly when the file is broken the technician needs to know
		// what the running agent does: reach it with what can be read.
		cfg = invalid.partial
		fmt.Fprintf(stderr, "warning: %v\nwarning: %s is not valid (see: edgeflow config validate --config %s); asking the agent at %s\n",
			invalid.err, invalid.path, invalid.path, or(addr, cfg.API.Bind))
	case err != nil:
		if cfgPath != "" || addr == "" {
			return nil, err
		}
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	if cfg != nil {
		c.token = cfg.API.Token
		if addr == "" {
			addr = cfg.API.Bind
		}
	}
	if env := os.Getenv("EDGEFLOW_API_TOKEN"); env != "" {
		c.token = env
	}
	if addr == "" {
		return nil, errors.New("the local API is off (api.bind is empty); give --api HOST:PORT")
	}
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("API address %q: %v", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c.base = "http://" + net.JoinHostPort(host, port)
	return c, nil
}

// clientConfig reads the file the agent reads: --config, else the
// packaged default when it exists, else the built-in defaults.
func clientConfig(path string) (*config.Config, error) {
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err != nil {
			return config.Default(), nil
		}
		path = defaultConfigPath
	}
	cfg, _, err := config.Load(path)
	var perr *config.Error
	if errors.As(err, &perr) {
		// Not valid, but there: the API address and token it gives, else
		// the defaults, still find the running agent.
		part := config.Default()
		if bind, token, rerr := config.ReadAPI(path); rerr == nil {
			part.API.Bind, part.API.Token = or(bind, part.API.Bind), token
		}
		return nil, &invalidConfig{path: path, err: fmt.Errorf("%s: %v", path, firstLine(err.Error())), partial: part}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, firstLine(err.Error()))
	}
	return cfg, nil
}

// invalidConfig is a configuration file that is there but not valid;
// partial holds what could be read of its api section.
type invalidConfig struct {
	path    string
	err     error
	partial *config.Config
}

func (e *invalidConfig) Error() string { return e.err.Error() }

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// do sends a request and decodes a JSON answer into out (when not nil).
// Error answers come back as the API's own message.
func (c *apiClient) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the agent's API at %s (is edgeflow running?): %v", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s", method, path, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("api", "", "the agent's API address (default: api.bind of the configuration)")
	path := fs.String("config", "", "configuration file (default "+defaultConfigPath+" when it exists)")
	asJSON := fs.Bool("json", false, "print the API's answer as it is")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := newAPIClient(*addr, *path, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow: %v\n", err)
		return 1
	}
	var st api.Status
	if err := c.do("GET", "/status", nil, &st); err != nil {
		fmt.Fprintf(stderr, "edgeflow: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return 0
	}
	printStatus(stdout, st, time.Now())
	return 0
}

// printStatus is the at-a-glance view: is each connection delivering, what
// waits, which gateways and devices were heard and when.
func printStatus(w io.Writer, st api.Status, now time.Time) {
	fmt.Fprintf(w, "edgeflow %s, up %s, configuration %s\n", st.Version, st.Uptime, st.Config)
	fmt.Fprintf(w, "buffer %s (persist %s), %s of %s\n", st.Buffer.Path, st.Buffer.Persist, config.ByteSize(st.Buffer.Size), config.ByteSize(st.Buffer.MaxSize))
	printReload(w, st.LastReload, now)
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tSTATE\tBACKLOG\tOLDEST\tDEAD\tLAST DELIVERY\tLAST ERROR")
	if len(st.Connections) == 0 {
		fmt.Fprintln(tw, "(none: uplinks are delivered nowhere)\t\t\t\t\t\t")
	}
	for _, c := range st.Connections {
		state := c.State
		if c.Reason != "" {
			state += " (" + c.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", c.Name, state, c.Backlog, dash(c.OldestAge), c.DeadLetters,
			ago(c.LastDelivery, now), lastError(c.ConnectionState, now))
	}
	tw.Flush()
	fmt.Fprintln(w)

	var src []string
	for _, s := range st.Sources {
		txt := s.Type + " " + s.Addr
		if s.State != "" && s.State != "listening" {
			txt += " (" + s.State + ")"
		}
		src = append(src, txt)
	}
	if len(st.Gateways) == 0 {
		fmt.Fprintf(w, "no packet forwarder heard yet (listening: %s)\n\n", strings.Join(src, ", "))
	} else {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GATEWAY\tLAST PUSH_DATA\tLAST PULL_DATA\tFROM\tPOSITION")
		for _, g := range st.Gateways {
			pos := "-"
			if g.Position != nil {
				pos = fmt.Sprintf("%.5f, %.5f", g.Position.Latitude, g.Position.Longitude)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.EUI, ago(g.LastPushData, now), ago(g.LastPullData, now), dash(g.PushAddr), pos)
		}
		tw.Flush()
		fmt.Fprintf(w, "sources: %s\n\n", strings.Join(src, ", "))
	}

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tNAME\tLAST UPLINK\tFCNT\tRSSI\tSNR\tLAST PAYLOAD")
	if len(st.Devices) == 0 {
		fmt.Fprintln(tw, "(no devices configured)\t\t\t\t\t\t")
	}
	for _, d := range st.Devices {
		last := ago(d.LastUplink, now)
		if !d.SessionKnown {
			last = "not joined yet"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.DevEUI, dash(d.Name), last, optUint(d.FCnt), optFloat(d.RSSI), optFloat(d.SNR), payloadText(d))
	}
	tw.Flush()
	printRejections(w, st, now)
}

// printReload tells whether the last reload from the file took: an init
// script's reload prints nothing of it.
func printReload(w io.Writer, r *api.ReloadStatus, now time.Time) {
	if r == nil {
		return
	}
	t := r.Time
	if r.OK {
		fmt.Fprintf(w, "last reload %s (%s): ok\n", ago(&t, now), r.Trigger)
		return
	}
	fmt.Fprintf(w, "last reload %s (%s): REFUSED, the configuration in force is the one before it:\n", ago(&t, now), r.Trigger)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// printRejections names the devices whose frames were refused, and the
// addresses nobody has, with what to check.
func printRejections(w io.Writer, st api.Status, now time.Time) {
	first := true
	for _, d := range st.Devices {
		r := d.LastRejection
		if r == nil {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nrejected frames:")
			first = false
		}
		t := r.Time
		name := d.DevEUI
		if d.Name != "" {
			name += " (" + d.Name + ")"
		}
		if r.Count == 0 {
			fmt.Fprintf(w, "  %s: %s (%s), good uplinks since\n", name, reasonWords(r.Reason), ago(&t, now))
			continue
		}
		fmt.Fprintf(w, "  %s: %s (%s), %d since its last good uplink: %s\n", name, reasonWords(r.Reason), ago(&t, now), r.Count, r.Hint)
	}
	if len(st.UnknownDevAddrs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nunknown devAddrs heard (no device has them: another network's devices, or a devAddr to check):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  DEVADDR\tFRAMES\tLAST HEARD\tBEST RSSI\tGATEWAY")
	const most = 10
	for i, u := range st.UnknownDevAddrs {
		if i == most {
			fmt.Fprintf(tw, "  … %d more\t\t\t\t\n", len(st.UnknownDevAddrs)-most)
			break
		}
		t := u.LastHeard
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\n", u.DevAddr, u.Count, ago(&t, now), strconv.FormatFloat(u.BestRSSI, 'f', -1, 64), dash(u.Gateway))
	}
	tw.Flush()
}

func reasonWords(r string) string {
	switch r {
	case "mic_failure":
		return "MIC failure"
	case "fcnt_replay":
		return "frame counter went back"
	}
	return r
}

func lastError(c api.ConnectionState, now time.Time) string {
	if c.LastError == "" {
		return "-"
	}
	e := c.LastError
	if len(e) > 60 {
		e = e[:60] + "…"
	}
	return e + " (" + ago(c.LastErrorTime, now) + ")"
}

// ago says how long ago t was, in the coarsest unit that reads well.
func ago(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := now.Sub(*t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d ago"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func optUint(v *uint32) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatUint(uint64(*v), 10)
}

func optFloat(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}
