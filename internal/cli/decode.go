package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/schema"
)

// DecodeOptions are `evctl decode`'s inputs.
type DecodeOptions struct {
	IO       *iostreams.IOStreams
	Registry func() (*schema.RegistryClient, error)

	File     string // "" or "-": stdin
	Input    string // raw, hex or base64
	Schema   string
	Proto    schema.LocalSchema // --value-proto or --descriptor-set, with --message
	ProtoRaw bool
	IsKey    bool
	AvroJSON bool
	Verbose  bool
}

// NewCmdDecode is `evctl decode`.
func NewCmdDecode(f *Factory, runF func(context.Context, *DecodeOptions) error) *cobra.Command {
	opts := &DecodeOptions{IO: f.IOStreams, Registry: f.Registry}
	var proto protoFlags
	cmd := &cobra.Command{
		Use:   "decode [file] [flags]",
		Short: "Decode one payload to JSON",
		Long: `Decode one key or value payload, from a file or standard input, to JSON,
by the same rules as tail: the registry's wire format (0x00 + schema id)
through --registry, or a local Avro schema (--schema, plain Avro binary)
or Protobuf schema (--value-proto file.proto or --descriptor-set file.pb,
--message naming the message, --proto-path where imports are; for a key,
--key-proto or --key-descriptor-set with --key-message, which imply
--key), else JSON, text or base64.

--proto-raw shows Protobuf bytes whose schema you do not have, as protoc
--decode_raw does: keys are "field number:kind", kind the wire type
(varint, fixed32, fixed64) or for a length-delimited field a guess
(message, string, or bytes in base64); a repeated number is an array.

--input says how the bytes are written: raw (default), hex (whitespace
ignored) or base64. A raw payload that decodes only without its last
newline (which tail -o raw and echo add) is decoded without it. Empty input
is an error. -v prints the whole decoding: value, type, schema,
encoding and error. Exit status 1 when the payload does not decode.`,
		Example: `  $ evctl decode --schema testdata/schemas/bank/MoneyDeposited.avsc --input hex < payload.hex
  $ evctl tail bank.account-events -n 1 -o raw | evctl decode -v
  $ echo AAAAAAE= | evctl decode --input base64
  $ evctl decode --value-proto bank.proto --message bank.v1.Transfer payload.bin
  $ evctl tail transfers -n 1 -o raw | evctl decode --proto-raw`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			value, err := proto.valueSchema()
			if err != nil {
				return err
			}
			key, err := proto.keySchema()
			if err != nil {
				return err
			}
			switch {
			case value.Path != "" && key.Path != "":
				return flagErrorf("decode reads one payload: give a value schema (--value-proto, --descriptor-set) or a key schema (--key-proto, --key-descriptor-set), not both")
			case key.Path != "":
				opts.Proto, opts.IsKey = key, true // --key-proto decodes a key
			default:
				opts.Proto = value
			}
			if opts.Proto.Path != "" && opts.Schema != "" {
				return flagErrorf("--schema and --%s exclude each other: give one schema", map[bool]string{true: "descriptor-set", false: "value-proto"}[opts.Proto.DescriptorSet])
			}
			if opts.ProtoRaw && (opts.Proto.Path != "" || opts.Schema != "") {
				return flagErrorf("--proto-raw decodes without a schema: it takes no --schema, --value-proto or --descriptor-set")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return decodeRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	stringEnumFlag(cmd, &opts.Input, "input", "", "raw", []string{"raw", "hex", "base64"}, "how the payload is written")
	fl.StringVarP(&opts.Schema, "schema", "s", "", "Avro schema `file` (.avsc) for a payload without registry framing")
	proto.add(cmd, "decode")
	fl.BoolVar(&opts.ProtoRaw, "proto-raw", false, "show Protobuf bytes without a schema: field numbers, wire types, nested messages guessed")
	fl.BoolVar(&opts.IsKey, "key", false, "decode as a key (key schema headers and subjects)")
	fl.BoolVar(&opts.AvroJSON, "avro-json", false, "show Avro in Avro's JSON encoding")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "print type, schema, encoding and error too")
	return cmd
}

// decodeView is what -v prints.
type decodeView struct {
	Value    json.RawMessage   `json:"value"`
	Type     string            `json:"type,omitempty"`
	Schema   *record.SchemaRef `json:"schema,omitempty"`
	Encoding string            `json:"encoding"`
	Error    string            `json:"error,omitempty"`
}

func decodeRun(ctx context.Context, opts *DecodeOptions) error {
	payload, err := readPayload(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}
	if opts.ProtoRaw {
		return decodeProtoRaw(opts, payload)
	}
	do := schema.DecoderOptions{AvroJSON: opts.AvroJSON}
	if opts.IsKey {
		do.KeySchema, do.KeyProto = opts.Schema, opts.Proto
	} else {
		do.ValueSchema, do.ValueProto = opts.Schema, opts.Proto
	}
	dec, err := newDecoder(opts.Registry, do)
	if err != nil {
		return err
	}
	p := dec.DecodePayload(ctx, payload, nil, opts.IsKey)
	// tail -o raw and echo end the payload with a newline; a schema-framed
	// payload decodes only without it.
	if trimmed, ok := bytes.CutSuffix(payload, []byte("\n")); ok && p.Err != nil && opts.Input == "raw" && len(trimmed) > 0 {
		if q := dec.DecodePayload(ctx, trimmed, nil, opts.IsKey); q.Err == nil {
			p = q
		}
	}
	var out any = p.JSON
	if opts.Verbose {
		v := decodeView{Value: p.JSON, Type: p.Type, Schema: p.Schema, Encoding: p.Encoding}
		if p.Err != nil {
			v.Error = p.Err.Error()
		}
		out = v
	}
	enc := json.NewEncoder(opts.IO.Out)
	enc.SetEscapeHTML(false)
	if opts.IO.IsStdoutTTY() {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(out); err != nil {
		return err
	}
	if p.Err != nil {
		return &ExitError{Code: ExitNegative, Msg: p.Err.Error()}
	}
	return nil
}

func readPayload(ctx context.Context, opts *DecodeOptions) ([]byte, error) {
	var in io.Reader
	name := "standard input"
	if opts.File != "" && opts.File != "-" {
		f, err := os.Open(opts.File)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in, name = f, opts.File
	} else {
		in = opts.IO.ReadStdin(ctx, "the payload")
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	switch opts.Input {
	case "hex":
		s := strings.Join(strings.Fields(string(b)), "")
		if b, err = hex.DecodeString(s); err != nil {
			return nil, fmt.Errorf("%s is not hex: %w", name, err)
		}
	case "base64":
		if b, err = base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b))); err != nil {
			return nil, fmt.Errorf("%s is not base64: %w", name, err)
		}
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty: there is no payload to decode; pipe one in, e.g. evctl tail <topic> -n 1 -o raw | evctl decode", name)
	}
	return b, nil
}

// decodeProtoRaw prints a Protobuf payload without a schema.
func decodeProtoRaw(opts *DecodeOptions, payload []byte) error {
	out, err := schema.ProtoRaw(payload)
	if trimmed, ok := bytes.CutSuffix(payload, []byte("\n")); err != nil && ok && opts.Input == "raw" && len(trimmed) > 0 {
		if o, terr := schema.ProtoRaw(trimmed); terr == nil {
			out, err = o, nil
		}
	}
	if err != nil {
		return &ExitError{Code: ExitNegative, Msg: err.Error()}
	}
	if opts.IO.IsStdoutTTY() {
		var buf bytes.Buffer
		if err := json.Indent(&buf, out, "", "  "); err == nil {
			out = buf.Bytes()
		}
	}
	_, err = fmt.Fprintf(opts.IO.Out, "%s\n", out)
	return err
}
