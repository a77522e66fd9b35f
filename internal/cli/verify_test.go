package cli

import "testing"

func TestNewCmdVerify(t *testing.T) {
	base := []string{"--source", "e", "--projection", "p.yaml", "--against", "rm"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	tests := []flagCase[VerifyOptions]{
		{name: "defaults", args: base, want: VerifyOptions{Sources: []string{"e"}, Projection: "p.yaml", Against: "rm", Output: "text", MaxChanges: 200}},
		{name: "pinned by a group", args: with("--as-of-group", "projector", "--max-changes", "0", "--junit", "r.xml"),
			want: VerifyOptions{Sources: []string{"e"}, Projection: "p.yaml", Against: "rm", AsOfGroup: "projector", Output: "text", JUnit: "r.xml"}},
		{name: "pinned at the ends", args: with("--at-end-offsets"),
			want: VerifyOptions{Sources: []string{"e"}, Projection: "p.yaml", Against: "rm", AtEndOffsets: true, Output: "text", MaxChanges: 200}},
		{name: "two pins", args: with("--at-end-offsets", "--as-of-group", "g"), wantErr: "--at-end-offsets and --as-of-group pin the source two ways: give one"},
		{name: "missing against", args: []string{"--source", "e", "--projection", "p.yaml"}, wantErr: "verify needs --source, --projection and --against"},
		{name: "bad max-changes", args: with("--max-changes", "-2"), wantErr: "invalid --max-changes -2"},
	}
	checkFlagCases(t, NewCmdVerify, tests, "IO", "Kafka", "Registry", "Getenv", "diff")
}
