// Package history keeps what the agent's charts draw, in memory and
// bounded: uplinks per minute per device and per gateway, each device's
// recent RSSI and SNR, and each connection's backlog, over the last hours.
// Nothing goes to flash: a restart starts the charts afresh, which is what
// a gateway's flash and a status page can both afford.
//
// A series is a ring of one int32 per step over Span, indexed by step
// number, so that recording is an increment and old steps are cleared as
// time moves on (advance), never shifted. Uplinks counts each uplink for
// its device and every gateway that heard it, and keeps its best
// reception's signal in the device's ring of points; Backlog keeps the
// highest sample of a step. Snapshot copies the last steps out, oldest
// first, for GET /history.
//
// Memory is fixed by Options: a series is one value per step over Span,
// and a device keeps at most MaxPoints signal points; at most MaxSeries
// series of each kind are kept, the least recently heard going first.
// With the defaults (6 h of 1 min steps, 256 series, 240 points) that is
// at most about 1.1 MB of steps and 0.7 MB of points.
//
// Goroutines: none of its own. A History is safe for concurrent use behind
// one mutex: the frame sources' goroutines record uplinks (through the
// agent's recent.record, once per batch), backlogs are recorded by the
// agent's sampler goroutine (or by the frame path when a sample is due),
// and API handlers take snapshots. Every call takes the
// time as an argument, so the caller's clock (an injected one in tests)
// decides the steps.
//
// Caveats: a series is named by its device's or gateway's EUI or its
// connection's id (the agent puts names on them), so a connection whose
// derived id changes with its name starts a new line. Making room for a new series scans the kind's series for the
// least recently used one while holding the lock, on the frame path: cheap
// at 256, not at ten thousand. A clock that jumps forward by more than
// Span empties the rings; one that jumps back records into older steps.
// Snapshot drops the series not heard within Span. Signal times are kept
// as 32-bit Unix seconds (until 2106) and RSSI/SNR as float32.
package history
