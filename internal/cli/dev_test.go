package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestNewCmdDevDriftAndFaults(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantDrift  int
		wantFaults bool
		wantErr    string
	}{
		{name: "defaults", args: nil},
		{name: "drift and faults", args: []string{"--drift", "3", "--faults"}, wantDrift: 3, wantFaults: true},
		{name: "every account", args: []string{"--accounts", "5", "--drift", "5"}, wantDrift: 5},
		{name: "more than the accounts", args: []string{"--accounts", "5", "--drift", "6"}, wantErr: "invalid --drift 6: want 0 to 5"},
		{name: "more than the events", args: []string{"--events", "4", "--drift", "5"}, wantErr: "invalid --drift 5: want 0 to 4"},
		{name: "negative", args: []string{"--drift", "-1"}, wantErr: "invalid --drift -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(t, NewCmdDev, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var fe *FlagError
				if !errors.As(err, &fe) {
					t.Errorf("err is %T, want a *FlagError (exit 2)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Sandbox.Drift != tt.wantDrift || got.Sandbox.Faults != tt.wantFaults {
				t.Errorf("Drift %d, Faults %v; want %d, %v", got.Sandbox.Drift, got.Sandbox.Faults, tt.wantDrift, tt.wantFaults)
			}
		})
	}
}
