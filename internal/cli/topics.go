package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/schema"
)

// TopicsOptions are `evctl topics`'s inputs.
type TopicsOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)

	Pattern  string
	Output   string
	Internal bool
}

// topicView is one row of `evctl topics`, and its JSON object.
type topicView struct {
	Name          string `json:"name"`
	Partitions    int    `json:"partitions"`
	Records       int64  `json:"records"`
	CleanupPolicy string `json:"cleanupPolicy"`
	KeySubject    string `json:"keySubject,omitempty"`
	ValueSubject  string `json:"valueSubject,omitempty"`
}

// NewCmdTopics is `evctl topics`.
func NewCmdTopics(f *Factory, runF func(context.Context, *TopicsOptions) error) *cobra.Command {
	opts := &TopicsOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry}
	cmd := &cobra.Command{
		Use:   "topics [pattern]",
		Short: "List topics with partitions, record counts and schemas",
		Long: `List the cluster's topics: partitions, record count (high minus low
watermark, summed over partitions: exact for plain topics, an upper bound
for compacted or transactional ones), cleanup.policy, and the registry
subjects for keys and values (<topic>-key, <topic>-value) when a registry
is configured. pattern is a glob, as in 'bank.*'. Internal topics (__*)
are hidden unless --internal.

On a terminal the output is a table; piped, it is tab-separated without a
header; -o json writes one JSON array.`,
		Example: `  $ evctl topics
  $ evctl topics 'bank.*' -o json | jq '.[] | select(.records > 0) | .name'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Pattern = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return topicsRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeTopics(f),
	}
	outputFlag(cmd, &opts.Output)
	cmd.Flags().BoolVar(&opts.Internal, "internal", false, "include internal topics (__consumer_offsets, ...)")
	return cmd
}

func topicsRun(ctx context.Context, opts *TopicsOptions) error {
	admin, err := newAdmin(opts.Kafka)
	if err != nil {
		return err
	}
	defer admin.Close()
	infos, err := admin.Topics(ctx, opts.Pattern)
	if err != nil {
		return err
	}
	return printTopics(opts.IO, opts.Output, topicViews(infos, registrySubjects(ctx, opts), opts.Internal))
}

// topicViews are the rows of the topics, internal ones with internal,
// naming the subjects of theirs that the registry has.
func topicViews(infos []kafka.TopicInfo, subjects []string, internal bool) []topicView {
	views := make([]topicView, 0, len(infos))
	for _, t := range infos {
		if t.Internal && !internal {
			continue
		}
		v := topicView{Name: t.Name, Partitions: t.Partitions, Records: t.Records, CleanupPolicy: t.CleanupPolicy}
		if slices.Contains(subjects, t.Name+"-key") {
			v.KeySubject = t.Name + "-key"
		}
		if slices.Contains(subjects, t.Name+"-value") {
			v.ValueSubject = t.Name + "-value"
		}
		views = append(views, v)
	}
	return views
}

// registrySubjects lists the registry's subjects; a registry that is down
// costs the subject columns and a warning, not the listing.
func registrySubjects(ctx context.Context, opts *TopicsOptions) []string {
	reg, err := opts.Registry()
	if err == nil && reg == nil {
		return nil
	}
	var subjects []string
	if err == nil {
		subjects, err = reg.Subjects(ctx)
	}
	if err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "evctl: warning: no schema subjects: %v\n", err)
	}
	return subjects
}

func printTopics(ios *iostreams.IOStreams, output string, views []topicView) error {
	if output == "json" {
		return printJSON(ios.Out, views)
	}
	if !ios.IsStdoutTTY() {
		for _, v := range views {
			fmt.Fprintf(ios.Out, "%s\t%d\t%d\t%s\t%s\t%s\n", v.Name, v.Partitions, v.Records, orDash(v.CleanupPolicy), orDash(v.KeySubject), orDash(v.ValueSubject))
		}
		return nil
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tRECORDS\tCLEANUP\tKEY SUBJECT\tVALUE SUBJECT")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", v.Name, v.Partitions, strconv.FormatInt(v.Records, 10), orDash(v.CleanupPolicy), orDash(v.KeySubject), orDash(v.ValueSubject))
	}
	return tw.Flush()
}
