package cli

import (
	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/schema"
)

// protoFlags are the flags that name local Protobuf schemas for values and
// keys, defined once for tail, decode and produce: --value-proto or
// --descriptor-set with --message, --key-proto or --key-descriptor-set
// with --key-message, and --proto-path for the imports of either.
type protoFlags struct {
	value, key protoSide
	protoPath  []string
}

// protoSide is one side's flags: a .proto file or a descriptor set, and a
// message.
type protoSide struct {
	proto, descriptorSet, message string
}

// add defines the flags; verb says what the schemas do ("decode",
// "encode").
func (p *protoFlags) add(cmd *cobra.Command, verb string) {
	fl := cmd.Flags()
	fl.StringVar(&p.value.proto, "value-proto", "", "Protobuf `file` (.proto) to "+verb+" values with, without registry framing")
	fl.StringVar(&p.value.descriptorSet, "descriptor-set", "", "Protobuf descriptor set `file` (protoc --include_imports --descriptor_set_out) to "+verb+" values with")
	fl.StringVar(&p.value.message, "message", "", "the values' Protobuf `message` (full or short name; default: the schema's first)")
	fl.StringVar(&p.key.proto, "key-proto", "", "Protobuf `file` (.proto) to "+verb+" keys with, without registry framing")
	fl.StringVar(&p.key.descriptorSet, "key-descriptor-set", "", "Protobuf descriptor set `file` to "+verb+" keys with")
	fl.StringVar(&p.key.message, "key-message", "", "the keys' Protobuf `message` (full or short name; default: the schema's first)")
	fl.StringSliceVar(&p.protoPath, "proto-path", nil, "with --value-proto or --key-proto: `directories` to find imports in (repeatable)")
}

// valueSchema and keySchema return the local schema the flags name for
// each side (an empty Path for none), or a usage error.
func (p *protoFlags) valueSchema() (schema.LocalSchema, error) {
	if err := p.checkProtoPath(); err != nil {
		return schema.LocalSchema{}, err
	}
	return p.value.schema(p.protoPath, "--value-proto", "--descriptor-set", "--message")
}

func (p *protoFlags) keySchema() (schema.LocalSchema, error) {
	if err := p.checkProtoPath(); err != nil {
		return schema.LocalSchema{}, err
	}
	return p.key.schema(p.protoPath, "--key-proto", "--key-descriptor-set", "--key-message")
}

func (p *protoFlags) checkProtoPath() error {
	if len(p.protoPath) > 0 && p.value.proto == "" && p.key.proto == "" {
		if p.value.descriptorSet != "" || p.key.descriptorSet != "" {
			return flagErrorf("--proto-path goes with --value-proto or --key-proto: a descriptor set holds its imports")
		}
		return flagErrorf("--proto-path goes with --value-proto or --key-proto")
	}
	return nil
}

func (s protoSide) schema(protoPath []string, protoFlag, setFlag, messageFlag string) (schema.LocalSchema, error) {
	l := schema.LocalSchema{Message: s.message}
	switch {
	case s.proto != "" && s.descriptorSet != "":
		return l, flagErrorf("%s and %s exclude each other: give one schema", protoFlag, setFlag)
	case s.proto != "":
		l.Path, l.ProtoPath = s.proto, protoPath
	case s.descriptorSet != "":
		l.Path, l.DescriptorSet = s.descriptorSet, true
	case s.message != "":
		return l, flagErrorf("%s goes with %s or %s", messageFlag, protoFlag, setFlag)
	}
	return l, nil
}
