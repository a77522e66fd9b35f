package main

import (
	"context"
	"os"

	"github.com/bufbuild/protocompile"
	"github.com/rogpeppe/go-internal/testscript"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// cmdProtoSet implements `protoset out.pb file.proto [import-dir...]`: it
// writes file.proto's descriptor set with its imports, as protoc
// --include_imports --descriptor_set_out does (no protoc on the machine):
// imports first, the file last.
func cmdProtoSet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: protoset out.pb file.proto [import-dir...]")
	}
	dirs := []string{ts.MkAbs(".")}
	for _, d := range args[2:] {
		dirs = append(dirs, ts.MkAbs(d))
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: dirs})}
	files, err := c.Compile(context.Background(), args[1])
	ts.Check(err)
	var set descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := range f.Imports().Len() {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(files[0])
	b, err := proto.Marshal(&set)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}
