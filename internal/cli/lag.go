package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
)

// LagOptions are `evctl lag`'s inputs.
type LagOptions struct {
	IO    *iostreams.IOStreams
	Kafka func() (kafka.Config, error)
	Now   func() time.Time

	Groups []string
	Topics []string
	Output string
}

// groupLagView is one group of `evctl lag`, and its JSON object.
type groupLagView struct {
	Group string `json:"group"`
	State string `json:"state"`
	// Lag is the sum of the partitions' lags.
	Lag int64 `json:"lag"`
	// OldestTimestamp and OldestAgeMs describe the oldest unconsumed record
	// over all partitions; absent when there is none (or it was not read).
	OldestTimestamp string             `json:"oldestTimestamp,omitempty"`
	OldestAgeMs     *int64             `json:"oldestAgeMs,omitempty"`
	Partitions      []partitionLagView `json:"partitions"`
	// missing counts lagging partitions whose oldest record was not read.
	missing int
}

// partitionLagView is one partition of a groupLagView.
type partitionLagView struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is null where the group has committed nothing.
	Committed       *int64 `json:"committed"`
	Low             int64  `json:"low"`
	End             int64  `json:"end"`
	Lag             int64  `json:"lag"`
	OldestTimestamp string `json:"oldestTimestamp,omitempty"`
	OldestAgeMs     *int64 `json:"oldestAgeMs,omitempty"`
}

// NewCmdLag is `evctl lag`.
func NewCmdLag(f *Factory, runF func(context.Context, *LagOptions) error) *cobra.Command {
	opts := &LagOptions{IO: f.IOStreams, Kafka: f.Kafka, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "lag [group...]",
		Short: "Show consumer groups' lag and the age of their oldest unconsumed record",
		Long: `Show how far consumer groups are behind: for every partition of the
topics a group consumes (those it has committed offsets for, and those its
members are assigned), its committed offset, the end
offset (the last stable offset, as a read_committed consumer sees it), the
lag between them, and the age of the oldest unconsumed record (the record
at the committed offset, read once per lagging partition). Each group ends
with a TOTAL row. Where a group has committed nothing on a partition,
COMMITTED is "-" and the lag counts every record there (end minus low).
A group that is subscribed but has committed nothing yet shows every
partition it is assigned, with its whole lag. No group given: every
group. A group that does not exist is an error (exit 2) that lists the
existing ones.

--topic (repeatable) measures these topics only: for the groups named,
every partition of them, committed or not; with no group named, the groups
that consume them.

On a terminal the output is a table; piped, it is one tab-separated line
per partition without header or totals (group, topic, partition,
committed, end, lag, oldest age in seconds); -o json writes one JSON array
of groups with their totals and partitions. An oldest age that could not
be read within --timeout shows as "?".`,
		Example: `  $ evctl lag
  $ evctl lag account-projector -o json | jq '.[] | {group, lag, oldestAgeMs}'
  $ evctl lag --topic bank.account-events
  $ evctl lag | awk -F'\t' '{lag[$1] += $6} END {for (g in lag) print g, lag[g]}'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Groups = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return lagRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeGroups(f),
	}
	cmd.Flags().StringArrayVarP(&opts.Topics, "topic", "t", nil, "measure this `topic` only (repeatable)")
	outputFlag(cmd, &opts.Output)
	_ = cmd.RegisterFlagCompletionFunc("topic", completeTopics(f))
	return cmd
}

func lagRun(ctx context.Context, opts *LagOptions) error {
	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	admin, err := kafka.NewAdmin(cfg)
	if err != nil {
		return err
	}
	defer admin.Close()
	lags, err := admin.Lag(ctx, opts.Groups, opts.Topics)
	if err != nil {
		return err
	}
	views := lagViews(lags, opts.Now())
	if len(views) == 0 && opts.Output != "json" {
		fmt.Fprintln(opts.IO.ErrOut, "No consumer groups.")
		return nil
	}
	missing := 0
	for _, v := range views {
		missing += v.missing
	}
	if missing > 0 {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = kafka.DefaultTimeout
		}
		fmt.Fprintf(opts.IO.ErrOut, "evctl: warning: the oldest unconsumed record of %s did not arrive within %s; its age shows as ?\n",
			english.Plural(missing, "partition"), timeout)
	}
	return printLag(opts.IO, opts.Output, views)
}

// lagViews turns measured lags into views, with ages as of now.
func lagViews(lags []kafka.GroupLag, now time.Time) []groupLagView {
	views := make([]groupLagView, 0, len(lags))
	for _, g := range lags {
		v := groupLagView{Group: g.Group, State: g.State, Lag: g.Lag(), Partitions: []partitionLagView{}}
		v.OldestTimestamp, v.OldestAgeMs = oldest(g.Oldest(), now)
		for _, p := range g.Partitions {
			pv := partitionLagView{Topic: p.Topic, Partition: p.Partition, Low: p.Low, End: p.End, Lag: p.Lag}
			if p.Committed >= 0 {
				pv.Committed = &p.Committed
			}
			pv.OldestTimestamp, pv.OldestAgeMs = oldest(p.Oldest, now)
			if p.Lag > 0 && p.Oldest.IsZero() {
				v.missing++
			}
			v.Partitions = append(v.Partitions, pv)
		}
		views = append(views, v)
	}
	return views
}

func oldest(t, now time.Time) (string, *int64) {
	if t.IsZero() {
		return "", nil
	}
	age := max(now.Sub(t), 0).Milliseconds() // a producer's clock may run ahead
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00"), &age
}

func printLag(ios *iostreams.IOStreams, output string, views []groupLagView) error {
	if output == "json" {
		return printJSON(ios.Out, views)
	}
	if !ios.IsStdoutTTY() {
		for _, v := range views {
			for _, p := range v.Partitions {
				age := "-"
				if p.OldestAgeMs != nil {
					age = strconv.FormatInt(*p.OldestAgeMs/1000, 10)
				} else if p.Lag > 0 {
					age = "?"
				}
				fmt.Fprintf(ios.Out, "%s\t%s\t%d\t%s\t%d\t%d\t%s\n", v.Group, p.Topic, p.Partition, committedText(p.Committed), p.End, p.Lag, age)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tOLDEST-AGE")
	for _, v := range views {
		for _, p := range v.Partitions {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\n", v.Group, p.Topic, p.Partition, committedText(p.Committed), p.End, p.Lag, ageText(p.OldestAgeMs, p.Lag))
		}
		fmt.Fprintf(tw, "%s\tTOTAL\t\t\t\t%d\t%s\n", v.Group, v.Lag, ageText(v.OldestAgeMs, v.Lag))
	}
	return tw.Flush()
}

func committedText(c *int64) string {
	if c == nil {
		return "-"
	}
	return strconv.FormatInt(*c, 10)
}

// ageText is a short human age: 45s, 12m05s, 5h12m, 3d04h; "-" without
// lag, "?" when the lagging record's time is unknown.
func ageText(ms *int64, lag int64) string {
	if ms == nil {
		if lag > 0 {
			return "?"
		}
		return "-"
	}
	s := *ms / 1000
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

func completeGroups(f *Factory) cobra.CompletionFunc {
	return completeNames(f, func(ctx context.Context, a *kafka.Admin) ([]string, error) {
		groups, err := a.Groups(ctx)
		ids := make([]string, len(groups))
		for i, g := range groups {
			ids[i] = g.ID
		}
		return ids, err
	})
}
