package cli

import (
	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/schema"
)

// protoFlags are the flags that name a local Protobuf schema, defined once
// for tail, decode and produce.
type protoFlags struct {
	proto, descriptorSet string
	local                schema.LocalSchema // Message and ProtoPath set by the flags
}

// add defines --value-proto, --descriptor-set, --message and --proto-path;
// what says what the schema decodes or encodes ("values", "the payload").
func (p *protoFlags) add(cmd *cobra.Command, what string) {
	fl := cmd.Flags()
	fl.StringVar(&p.proto, "value-proto", "", "Protobuf `file` (.proto) for "+what+" without registry framing")
	fl.StringVar(&p.descriptorSet, "descriptor-set", "", "Protobuf descriptor set `file` (protoc --include_imports --descriptor_set_out) for "+what)
	fl.StringVar(&p.local.Message, "message", "", "the Protobuf `message` (full or short name; default: the schema's first)")
	fl.StringSliceVar(&p.local.ProtoPath, "proto-path", nil, "with --value-proto: `directories` to find imports in (repeatable)")
}

// schema returns the local schema the flags name (an empty Path for none),
// or a usage error.
func (p *protoFlags) schema() (schema.LocalSchema, error) {
	l := p.local
	switch {
	case p.proto != "" && p.descriptorSet != "":
		return l, flagErrorf("--value-proto and --descriptor-set exclude each other: give one schema")
	case p.proto != "":
		l.Path = p.proto
	case p.descriptorSet != "":
		l.Path, l.DescriptorSet = p.descriptorSet, true
	case l.Message != "" || len(l.ProtoPath) > 0:
		return l, flagErrorf("--message and --proto-path go with --value-proto or --descriptor-set")
	}
	if len(l.ProtoPath) > 0 && p.proto == "" {
		return l, flagErrorf("--proto-path goes with --value-proto")
	}
	return l, nil
}
