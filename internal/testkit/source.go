package testkit

import (
	"context"
	"sync"
	"testing"

	"edgeflow/radio"
)

// RunSource runs s as the agent does; the function it returns ends Run and
// waits for it (once, however often it is called), failing the test if Run
// returned an error.
func RunSource(tb testing.TB, s radio.Source) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-ran; err != nil {
				tb.Error(err)
			}
		})
	}
}
