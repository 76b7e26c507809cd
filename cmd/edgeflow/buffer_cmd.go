package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"edgeflow/buffer"
)

func cmdBuffer(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "deadletters" {
		return cmdDeadLetters(args[1:], stdout, stderr)
	}
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprint(stderr, "usage: edgeflow buffer check FILE\n")
		return 2
	}
	err := buffer.CheckFile(args[1])
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", args[1], err)
	} else {
		fmt.Fprintf(stdout, "%s: ok\n", args[1])
	}
	return buffer.ExitCode(err)
}

// checkBufferInChild checks a buffer file in a child process: bbolt reports
// some corruption by panicking in its own goroutines, which no recover in
// the agent can catch, and the agent must never crash-loop on its own data.
func checkBufferInChild(path string) error {
	self, err := os.Executable()
	if err != nil {
		return buffer.CheckFile(path)
	}
	return buffer.CommandCheck(2*time.Minute, self, "buffer", "check")(path)
}
