package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
)

// VersionOptions are `evctl version`'s inputs.
type VersionOptions struct {
	IO      *iostreams.IOStreams
	Version string
	Output  string
}

// versionInfo is what `evctl version -o json` prints.
type versionInfo struct {
	Version    string `json:"version"`
	Commit     string `json:"commit"`
	Librdkafka string `json:"librdkafka"`
	Go         string `json:"go"`
}

// NewCmdVersion is `evctl version`.
func NewCmdVersion(f *Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "version [flags]",
		Short: "Print evctl's version, commit and librdkafka version",
		Long: `Print evctl's version, the commit it was built from ("unknown" when the
build did not record it) and the librdkafka version it links, for bug
reports. -o json prints {"version", "commit", "librdkafka", "go"}.`,
		Example: `  $ evctl version
  $ evctl version -o json | jq -r .librdkafka`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return versionRun(opts)
		},
	}
	outputFlag(cmd, &opts.Output)
	return cmd
}

func versionRun(opts *VersionOptions) error {
	v := versionInfo{Version: opts.Version, Commit: buildCommit(), Librdkafka: kafka.LibrdkafkaVersion(), Go: runtime.Version()}
	if opts.Output == "json" {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(opts.IO.Out, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(opts.IO.Out, "evctl %s (commit %s, librdkafka %s, %s)\n", v.Version, v.Commit, v.Librdkafka, v.Go)
	return err
}

// buildCommit is the VCS revision the Go toolchain stamped into the
// binary (with "-dirty" for a modified tree), or "unknown".
func buildCommit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
