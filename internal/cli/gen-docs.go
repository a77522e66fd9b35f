package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// GenDocsOptions are `evctl gen-docs`'s inputs.
type GenDocsOptions struct {
	Factory *Factory
	Root    *cobra.Command
	Dir     string
	Format  string // man or markdown
}

// NewCmdGenDocs is the hidden `evctl gen-docs`: man pages and markdown,
// for packagers and docs/commands.
func NewCmdGenDocs(f *Factory, runF func(context.Context, *GenDocsOptions) error) *cobra.Command {
	opts := &GenDocsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:    "gen-docs --dir <dir> [--format {man|markdown}]",
		Short:  "Generate man pages or markdown for every command",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Root = cmd.Root()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return genDocsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "directory to write into (created)")
	stringEnumFlag(cmd, &opts.Format, "format", "", "man", []string{"man", "markdown"}, "what to write")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func genDocsRun(_ context.Context, opts *GenDocsOptions) error {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return err
	}
	opts.Root.DisableAutoGenTag = true
	var err error
	if opts.Format == "man" {
		err = doc.GenManTree(opts.Root, &doc.GenManHeader{Title: "EVCTL", Section: "1", Source: "evctl " + opts.Factory.Version}, opts.Dir)
	} else {
		err = doc.GenMarkdownTree(opts.Root, opts.Dir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Factory.IOStreams.ErrOut, "Wrote %s docs to %s\n", opts.Format, opts.Dir)
	return nil
}
