// Command evctl inspects, decodes and replays Kafka event streams.
package main

import (
	"os"

	"github.com/evctl/evctl/internal/cli"
)

// version is set by the linker: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() { os.Exit(cli.Main(version)) }
