package cli

import (
	"github.com/spf13/cobra"
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
