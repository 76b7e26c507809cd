// Command callee is TestTopCalls's ARM binary: caller calls callee once.
package main

//go:noinline
func callee(x int) int { return x*3 + 1 }

//go:noinline
func caller(x int) int { return callee(x) + 2 }

func main() { println(caller(4)) }
