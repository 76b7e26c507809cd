package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// report is what one load measured. Durations are in milliseconds, sizes
// in KiB unless the name says otherwise.
type report struct {
	Agent         string  `json:"agent"`
	PID           int     `json:"pid"`
	Persist       string  `json:"persist,omitempty"`
	Devices       int     `json:"devices"`
	Uplinks       int     `json:"uplinks"`
	Prefilled     int     `json:"prefilled,omitempty"`
	PrefillSecs   float64 `json:"prefill_s,omitempty"`
	RxpkPerDgram  int     `json:"rxpk_per_datagram"`
	DatagramBytes int     `json:"datagram_bytes"`
	Window        int     `json:"window"`
	Sources       int     `json:"sources"`
	Rate          float64 `json:"rate,omitempty"`
	OutageMs      float64 `json:"outage_ms,omitempty"`

	Acked        int         `json:"datagrams_acked"`
	Unacked      int         `json:"datagrams_unacked"`
	AckRate      float64     `json:"acked_uplinks_per_s"`
	Delivered    int         `json:"delivered"`
	Duplicates   int         `json:"duplicates"`
	Refused      int         `json:"endpoint_503s"`
	Late         int         `json:"late"`
	ElapsedSecs  float64     `json:"elapsed_s"`
	E2ERate      float64     `json:"uplinks_per_s"`
	CPUMicros    float64     `json:"cpu_us_per_uplink"`
	CPUPercent   float64     `json:"cpu_percent_during_load"`
	InsnsPerUp   float64     `json:"guest_insns_per_uplink,omitempty"`
	BlocksPerUp  float64     `json:"guest_blocks_per_uplink,omitempty"`
	Translations uint64      `json:"guest_translations,omitempty"`
	TopFuncs     []funcShare `json:"guest_top_functions,omitempty"`
	TopCalls     []callShare `json:"guest_top_calls,omitempty"`
	AnonStartKiB int64       `json:"rss_anon_start_kib"`
	AnonPeakKiB  int64       `json:"rss_anon_peak_kib"`
	AnonEndKiB   int64       `json:"rss_anon_end_kib"`
	WrittenBytes int64       `json:"written_bytes"`
	WrittenPerUp float64     `json:"written_bytes_per_uplink"`
	AckLat       pct         `json:"push_ack_ms"`
	E2ELat       pct         `json:"reception_to_endpoint_ms"`
	DrainDelayMs float64     `json:"drain_first_delivery_after_outage_ms,omitempty"`
	DrainRate    float64     `json:"drain_uplinks_per_s,omitempty"`
	IdleSecs     float64     `json:"idle_s,omitempty"`
	IdleCPU      float64     `json:"idle_cpu_percent,omitempty"`
	BufferBytes  int64       `json:"buffer_file_bytes,omitempty"`
	BufferAfter  int64       `json:"buffer_file_bytes_after_settle,omitempty"`
	AgentWarns   int         `json:"agent_warn_lines"`
	LoadAvg      string      `json:"machine_loadavg"`
}

// pct are latency percentiles in milliseconds.
type pct struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func percentiles(d []time.Duration) pct {
	if len(d) == 0 {
		return pct{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(p*float64(len(s))+0.999999) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return pct{N: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *report) printJSON(w io.Writer) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
}

func (r *report) print(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("agent            %s (pid %d), persist %s", r.Agent, r.PID, r.Persist)
	load := fmt.Sprintf("%d uplinks from %d devices, %d rxpk/datagram (%d bytes), window %d, %d source socket(s)", r.Uplinks, r.Devices, r.RxpkPerDgram, r.DatagramBytes, r.Window, r.Sources)
	if r.Rate > 0 {
		load += fmt.Sprintf(", paced at %.0f uplinks/s", r.Rate)
	}
	if r.OutageMs > 0 {
		load += fmt.Sprintf(", endpoint outage %.1f s", r.OutageMs/1000)
	}
	p("load             %s", load)
	if r.Prefilled > 0 {
		p("backlog          %d uplinks prefilled into the buffer in %.1f s", r.Prefilled, r.PrefillSecs)
	}
	p("PUSH_ACK         %d datagrams acked, %d unacked; %.0f uplinks/s acked", r.Acked, r.Unacked, r.AckRate)
	p("endpoint         %d delivered (%d late, %d duplicates), %d answered 503", r.Delivered, r.Late, r.Duplicates, r.Refused)
	p("throughput       %.0f uplinks/s end to end (%.2f s)", r.E2ERate, r.ElapsedSecs)
	p("CPU              %.1f µs per uplink (%.0f %% of one core during the load)", r.CPUMicros, r.CPUPercent)
	if r.InsnsPerUp > 0 {
		p("guest insns      %.0f per uplink (%.0f translation blocks run, %d translated during the load)", r.InsnsPerUp, r.BlocksPerUp, r.Translations)
		for _, f := range r.TopFuncs {
			p("  %9.0f %5.1f %%  %s", f.Insns, 100*f.Insns/r.InsnsPerUp, f.Name)
		}
		for _, c := range r.TopCalls {
			p("  %9.2f calls  %s -> %s", c.Calls, c.Caller, c.Callee)
		}
	}
	p("RssAnon          start %.1f MiB, peak %.1f MiB, end %.1f MiB", mib(r.AnonStartKiB), mib(r.AnonPeakKiB), mib(r.AnonEndKiB))
	p("disk writes      %d bytes, %.0f bytes per uplink", r.WrittenBytes, r.WrittenPerUp)
	p("PUSH_ACK ms      %s", r.AckLat)
	p("rx→endpoint ms   %s", r.E2ELat)
	if r.DrainRate > 0 {
		p("backlog drain    %.0f uplinks/s; first delivery %.0f ms after the endpoint came back", r.DrainRate, r.DrainDelayMs)
	}
	if r.BufferBytes > 0 {
		p("buffer file      %.1f MiB after the load, %.1f MiB after settling", float64(r.BufferBytes)/(1<<20), float64(r.BufferAfter)/(1<<20))
	}
	if r.IdleSecs > 0 {
		p("idle CPU         %.3f %% over %.0f s", r.IdleCPU, r.IdleSecs)
	}
	p("agent log        %d WARN/ERROR lines", r.AgentWarns)
	p("machine load     %s (/proc/loadavg at the end; other processes share these cores)", r.LoadAvg)
}

func (q pct) String() string {
	if q.N == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (n=%d)", q.P50, q.P90, q.P99, q.Max, q.N)
}

func mib(kib int64) float64 { return float64(kib) / 1024 }
