package schema

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/internal/record"
)

// LocalSchema names a schema in a local file.
type LocalSchema struct {
	// Path is an Avro schema (.avsc), a JSON Schema (.json), a Protobuf
	// file (.proto) or a descriptor set (protoc --descriptor_set_out: .pb,
	// .desc, .binpb, or any other name with DescriptorSet set).
	Path string
	// ProtoPath lists the directories a .proto file's imports are found in;
	// the file's own directory is searched last.
	ProtoPath []string
	// DescriptorSet says Path is a descriptor set whatever its name.
	DescriptorSet bool
	// Message is the Protobuf message the schema stands for: a full name
	// ("bank.v1.Transfer"), or a short one where that is unique; "" is the
	// file's first message. It also selects the file of a descriptor set.
	Message string
}

// LoadLocal reads and parses a local schema file. flag names the option
// that gave it, for errors.
func LoadLocal(l LocalSchema, flag string) (*Schema, error) {
	if l.Path == "" {
		return nil, nil
	}
	ext := strings.ToLower(filepath.Ext(l.Path))
	var s *Schema
	var err error
	switch {
	case l.DescriptorSet || ext == ".pb" || ext == ".desc" || ext == ".binpb":
		s, err = loadDescriptorSet(l)
	case ext == ".proto":
		s, err = loadProtoFile(l)
	default:
		var text []byte
		if text, err = os.ReadFile(l.Path); err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		format := FormatAvro
		if ext == ".json" {
			format = FormatJSON
		}
		if s, err = ParseSchema(format, l.Path, string(text), nil, nil); err != nil {
			return nil, fmt.Errorf("%s %w", flag, err) // the error starts with the path
		}
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Path == l.Path {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return nil, fmt.Errorf("%s %s: %w", flag, l.Path, err)
	}
	s.ref.Local = l.Path
	if s.Format == FormatProtobuf {
		md, _, err := s.protoMessageNamed(l.Message)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, l.Path, err)
		}
		s.local = md
	}
	return s, nil
}

// loadProtoFile compiles a .proto file, its imports found in the import
// paths, then the file's own directory; the well-known types and
// Confluent's built-in imports need no file.
func loadProtoFile(l LocalSchema) (*Schema, error) {
	dir, name := filepath.Split(l.Path)
	if dir == "" {
		dir = "."
	}
	paths := append(append([]string{}, l.ProtoPath...), dir)
	src := &protocompile.SourceResolver{ImportPaths: paths}
	resolve := protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		if f, ok := builtinImports()[path]; ok {
			return protocompile.SearchResult{Desc: f}, nil
		}
		r, err := src.FindFileByPath(path)
		if err != nil && path != name {
			return r, fmt.Errorf("import not found in %s: give its directory with --proto-path", strings.Join(paths, ", "))
		}
		return r, err
	})
	if _, err := os.Stat(l.Path); err != nil {
		return nil, err
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(resolve)}
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("invalid Protobuf schema: %w", err)
	}
	return protoSchema(files[0]), nil
}

// loadDescriptorSet reads a FileDescriptorSet (protoc --include_imports
// --descriptor_set_out, buf build -o) and takes the file that declares
// Message, else the set's last file, which protoc writes after its imports.
func loadDescriptorSet(l LocalSchema) (*Schema, error) {
	b, err := os.ReadFile(l.Path)
	if err != nil {
		return nil, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a Protobuf descriptor set (protoc --include_imports --descriptor_set_out): %w", err)
	}
	if len(set.File) == 0 {
		return nil, errors.New("the descriptor set holds no file")
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("invalid descriptor set (build it with --include_imports): %w", err)
	}
	fd, err := files.FindFileByPath(set.File[len(set.File)-1].GetName())
	if err != nil {
		return nil, err
	}
	if l.Message != "" {
		fd = descriptorFileOf(files, l.Message, fd)
	}
	f, err := linker.NewFileRecursive(fd)
	if err != nil {
		return nil, err
	}
	return protoSchema(f), nil
}

// descriptorFileOf returns the file of files that declares message name
// (full or short), else def.
func descriptorFileOf(files *protoregistry.Files, name string, def protoreflect.FileDescriptor) protoreflect.FileDescriptor {
	if d, err := files.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
		return d.ParentFile()
	}
	found := def
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		var in func(msgs protoreflect.MessageDescriptors) bool
		in = func(msgs protoreflect.MessageDescriptors) bool {
			for i := range msgs.Len() {
				if string(msgs.Get(i).Name()) == name || in(msgs.Get(i).Messages()) {
					return true
				}
			}
			return false
		}
		if in(fd.Messages()) {
			found = fd
			return false
		}
		return true
	})
	return found
}

func protoSchema(f linker.File) *Schema {
	return &Schema{Format: FormatProtobuf, proto: f, ref: &record.SchemaRef{Format: FormatProtobuf}}
}
