// Package fwdconf reads and edits the JSON configuration of Semtech's
// packet forwarder (lora_pkt_fwd's global_conf.json and local_conf.json)
// the way a technician would by hand: only the values it changes are
// rewritten, in place in the text, so that comments, key order, spacing
// and every other key stay byte for byte. `edgeflow forwarder attach` and
// `detach` (cmd/edgeflow) use it to point a forwarder at edgeflow and back.
//
// Parse blanks the comments out (scan.go: "/* … */" and "// …", which
// parson, the forwarder's parser, allows), checks that what is left is
// JSON, and records where each key and value of gateway_conf starts and
// ends in the text. File.Server reads server_address, serv_port_up and
// serv_port_down; File.SetServer writes them as edits at those offsets,
// adding a missing key at the top of gateway_conf with the indentation of
// its first key, and parses its own result again so that it never returns
// a file that reads back as something else.
//
// Goroutines: none. A File is not changed by SetServer (it returns new
// text), so it may be read from several goroutines; the package does no
// I/O: the caller reads the file and writes the result (atomically, with a
// backup: cmd/edgeflow/forwarder.go).
//
// Caveats: only gateway_conf's single-server keys are edited. A forwarder
// that lists its servers in a "servers" array (the TTN poly/mp forwarders)
// is reported by MultiServer and left alone. lora_pkt_fwd reads
// local_conf.json over global_conf.json, so the file that sets the server
// is the one to edit; the caller chooses. A port left out of the file is
// lora_pkt_fwd's compiled-in default (1780 up, 1782 down), which Server
// reports as 0, not as that default.
package fwdconf
