package cli

import (
	"context"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/evctl/evctl/internal/kafka"
)

// NewCmdCompletion is `evctl completion {bash|zsh|fish|powershell}`.
func NewCmdCompletion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion {bash|zsh|fish|powershell}",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script. Load it in the current shell, or save
it where your shell looks for completions.`,
		Example: `  $ source <(evctl completion bash)
  $ evctl completion zsh > "${fpath[1]}/_evctl"
  $ evctl completion fish > ~/.config/fish/completions/evctl.fish`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), f.IOStreams.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			default:
				return root.GenPowerShellCompletionWithDesc(out)
			}
		},
	}
}

// positionExamples complete --from and --to: one of each form.
var positionExamples = []string{"start", "end", "-10", "+10", "@-15m", "@-1h", "@-1d", "@-7d"}

// registerCompletions gives every flag of the tree the completion its
// kind calls for, from one place: positions for --from and --to, context
// names for --context, consumer groups for --group. Flags with a fixed set
// of values (-o, --emit...) complete them through stringEnumFlag. A
// command that registered its own keeps it.
func registerCompletions(f *Factory, root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("context", completeContexts(f))
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			var fn cobra.CompletionFunc
			switch {
			case fl.Name == "from" || fl.Name == "to":
				fn = cobra.FixedCompletions(positionExamples, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace)
			case fl.Name == "group" || strings.HasSuffix(fl.Name, "-group"):
				fn = completeGroups(f)
			}
			if fn != nil {
				_ = cmd.RegisterFlagCompletionFunc(fl.Name, fn) // an error: the command registered its own
			}
		})
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

// completeTopics completes topic names; it dials only when the user
// presses tab, never for --help.
func completeTopics(f *Factory) cobra.CompletionFunc {
	return completeNames(f, func(ctx context.Context, a *kafka.Admin) ([]string, error) { return a.TopicNames(ctx) })
}

// completeNames completes with what list finds on the cluster.
func completeNames(f *Factory, list func(context.Context, *kafka.Admin) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		a, err := newAdmin(f.Kafka)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		defer a.Close()
		names, err := list(cmd.Context(), a)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		sort.Strings(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
