package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, self: os.Args[0]})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "freshtrack:", err)
		os.Exit(1)
	}
}
