package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"edgeflow/buffer"
)

func cmdBuffer(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprint(stderr, "usage: edgeflow buffer check FILE\n")
		return 2
	}
	if err := buffer.CheckFile(args[1]); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", args[1], err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", args[1])
	return 0
}

// checkBufferInChild checks a buffer file in a child process: bbolt reports
// some corruption by panicking in its own goroutines, which no recover in
// the agent can catch, and the agent must never crash-loop on its own data.
func checkBufferInChild(path string) error {
	self, err := os.Executable()
	if err != nil {
		return buffer.CheckFile(path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, self, "buffer", "check", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}
