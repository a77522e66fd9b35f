package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/english"
)

// ErrUnreachable is wrapped by every error that means the brokers did not
// answer within the timeout; test for it with errors.Is.
var ErrUnreachable = errors.New("brokers unreachable")

type unreachableError struct {
	brokers string
	timeout time.Duration
	cause   string
	// answers: a broker of the cluster answered a metadata request after
	// the call failed, so the address is right and a broker is down or
	// restarting; group is the group whose coordinator the call needed.
	answers bool
	group   string
}

func (e *unreachableError) Error() string {
	if e.answers {
		what := "not every broker answered"
		if e.group != "" {
			what = fmt.Sprintf("the coordinator of group %q did not answer", e.group)
		}
		msg := fmt.Sprintf("%s within %s", what, e.timeout)
		if e.cause != "" {
			msg += " (" + e.cause + ")"
		}
		return msg + fmt.Sprintf(", though the cluster at %q answers", e.brokers) + RestartHint
	}
	msg := fmt.Sprintf("cannot reach brokers at %q within %s", e.brokers, e.timeout)
	if e.cause != "" {
		msg += " (" + e.cause + ")"
	}
	return msg + BrokersHint
}

// BrokersHint and RestartHint end the messages of the errors that wrap
// ErrUnreachable, when no broker answers and when some do; a caller that
// asks again on its own (wait) may trim them.
const (
	BrokersHint = "; check --brokers"
	RestartHint = ": a broker may be down or restarting; try again, or give a longer --timeout"
)

func (e *unreachableError) Is(target error) bool { return target == ErrUnreachable }

// unreachable turns a failed wait on the brokers into an ErrUnreachable,
// explained by librdkafka's last logged complaint when there is one.
func unreachable(ctx context.Context, cfg Config, logs *logSink, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err() // cancelled by the caller: not the brokers' fault
	}
	cause := logs.Last()
	if cause == "" && err != nil {
		cause = err.Error()
	}
	brokers := cfg.Brokers
	if b, ok := cfg.prop("bootstrap.servers"); ok {
		brokers = b
	}
	return &unreachableError{brokers: brokers, timeout: cfg.timeout(), cause: cause}
}

// IsTransient reports whether err may go away if the call is made again:
// the brokers did not answer within the timeout (a broker restarting,
// a group's coordinator moving), or the cluster answered with an error
// it marks retriable (coordinator not available or loading, not the
// coordinator, a leader moving).
func IsTransient(err error) bool {
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	var ke rdk.Error
	if !errors.As(err, &ke) {
		return false
	}
	return coordinatorMoving(err) || ke.Code() == rdk.ErrNotLeaderForPartition ||
		ke.Code() == rdk.ErrLeaderNotAvailable || ke.IsRetriable()
}

// unanswered is unreachable for a call the brokers did not answer in
// time after the cluster had answered (its metadata), naming group when
// the call needed that group's coordinator ("" for a partition's leader,
// or every broker): when the cluster still answers a metadata request,
// asked through a fresh client for a quarter of the timeout (at least
// 500ms), the error says so instead of pointing at --brokers, whose
// address is right. A SIGKILLed broker that coordinated the group, or
// led the partition, leaves the call without an answer until the cluster
// moves it. A fresh client, because the failed call's may hold its
// connections busy with requests that wait.
func unanswered(ctx context.Context, cfg Config, logs *logSink, group string, err error) error {
	u := unreachable(ctx, cfg, logs, err)
	var ue *unreachableError
	if !errors.As(u, &ue) {
		return u // cancelled
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(cfg.timeout()/4, 500*time.Millisecond))
	defer cancel()
	if clusterAnswers(mctx, cfg) {
		ue.answers, ue.group = true, group
	}
	return ue
}

// clusterAnswers reports whether a broker of the cluster answers a
// metadata request within ctx, through a client of its own.
func clusterAnswers(ctx context.Context, cfg Config) bool {
	m, err := cfg.configMap(neverJoined)
	if err != nil {
		return false
	}
	c, logs, err := newConsumer(m)
	if err != nil {
		return false
	}
	defer closeWhenIdle(func() { _ = c.Close() }) // it never joined a group
	_, err = clusterMetadata(ctx, cfg, logs, c)
	return err == nil
}

// isUnreachable reports whether a librdkafka error means no broker answered.
func isUnreachable(err error) bool {
	var ke rdk.Error
	if !errors.As(err, &ke) {
		return errors.Is(err, context.DeadlineExceeded)
	}
	switch ke.Code() {
	case rdk.ErrTimedOut, rdk.ErrTimedOutQueue, rdk.ErrTransport,
		rdk.ErrAllBrokersDown, rdk.ErrResolve, rdk.ErrDestroy:
		return true
	}
	return false
}

// UnknownTopicError says a topic does not exist, and which do.
type UnknownTopicError struct {
	Topic string
	// Similar are existing topics whose names are close to Topic, closest
	// first (at most 5).
	Similar []string
	// Have lists some existing topics (at most 10) when none is similar;
	// More counts the others.
	Have []string
	More int
}

func (e *UnknownTopicError) Error() string {
	return notFound("topic", e.Topic, e.Similar, e.Have, e.More)
}

// HaveText lists Have, and says how many more topics there are.
func (e *UnknownTopicError) HaveText() string { return someOf(e.Have, e.More) }

// someOf joins names, some of a list, and counts the more it leaves out.
func someOf(names []string, more int) string {
	s := strings.Join(names, ", ")
	if more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// notFound says what of kind was not found and what the cluster has:
// have, some of them, and more others.
func notFound(kind, name string, similar, have []string, more int) string {
	var hint string
	switch {
	case len(similar) > 0:
		hint = " (similar: " + strings.Join(similar, ", ") + ")"
	case len(have) > 0:
		hint = " (have: " + someOf(have, more) + ")"
	default:
		hint = " (the cluster has no " + kind + "s)"
	}
	return fmt.Sprintf("%s %q not found%s; check the name or --brokers", kind, name, hint)
}

// unknownTopic builds the error for topic given the cluster's topic names.
func unknownTopic(topic string, names []string) *UnknownTopicError {
	visible := make([]string, 0, len(names))
	for _, n := range names {
		if !isInternal(n) {
			visible = append(visible, n)
		}
	}
	sort.Strings(visible)
	e := &UnknownTopicError{Topic: topic, Similar: english.Similar(topic, visible, 5)}
	if len(e.Similar) == 0 {
		e.Have = visible[:min(len(visible), 10)]
		e.More = len(visible) - len(e.Have)
	}
	return e
}

// isInternal reports whether a topic is the cluster's own (__consumer_offsets,
// __transaction_state, ...); the Go client's metadata does not carry the flag.
func isInternal(topic string) bool { return strings.HasPrefix(topic, "__") }

// brokerWatch turns librdkafka's client-level error events into errors.
// librdkafka retries transient failures on its own, so "all brokers down"
// ends a read only once the brokers have stayed down for the timeout and a
// metadata request confirms it; fatal and authorization errors end it at once.
type brokerWatch struct {
	cfg       Config
	logs      *logSink
	mc        metadataClient
	downSince time.Time // when librdkafka last reported all brokers down
}

// event decides whether a client-level error ends the read.
func (w *brokerWatch) event(ctx context.Context, e rdk.Error) error {
	switch {
	case e.IsFatal():
		return fmt.Errorf("kafka: %w", e)
	case e.Code() == rdk.ErrAllBrokersDown:
		if w.downSince.IsZero() {
			w.downSince = time.Now()
		}
		return w.check(ctx)
	case e.Code() == rdk.ErrTopicAuthorizationFailed, e.Code() == rdk.ErrGroupAuthorizationFailed,
		e.Code() == rdk.ErrUnknownTopicOrPart:
		return fmt.Errorf("kafka: %w", e)
	}
	return nil
}

// check fails once the brokers have been down for the timeout and still
// do not answer; call it when a poll comes back empty.
func (w *brokerWatch) check(ctx context.Context) error {
	if w.downSince.IsZero() || time.Since(w.downSince) < w.cfg.timeout() {
		return nil
	}
	// The brokers have been down for the whole timeout already: the
	// confirmation gets a quarter of it (at least 500 ms), not another
	// timeout, so that a lost cluster ends a command within 1.25 timeouts.
	cctx, cancel := context.WithTimeout(ctx, max(w.cfg.timeout()/4, 500*time.Millisecond))
	defer cancel()
	if _, err := clusterMetadata(cctx, w.cfg, w.logs, w.mc); err != nil {
		return err
	}
	w.downSince = time.Time{}
	return nil
}

// up notes that a record arrived: the brokers answer.
func (w *brokerWatch) up() { w.downSince = time.Time{} }
