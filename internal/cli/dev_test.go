package cli

import (
	"errors"
	"strings"
	"testing"
	"time"
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

func TestNewCmdDevLive(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    DevLiveOptions
		wantErr string
	}{
		{name: "off", args: nil, want: DevLiveOptions{Delay: 2 * time.Second}},
		{name: "defaults", args: []string{"--live"}, want: DevLiveOptions{On: true, Rate: 20, Delay: 2 * time.Second}},
		{name: "all", args: []string{"--live", "--rate", "50/s", "--projector-delay", "500ms", "--projector-pause", "--live-events", "30"},
			want: DevLiveOptions{On: true, Rate: 50, Delay: 500 * time.Millisecond, Paused: true, Events: 30}},
		{name: "per minute", args: []string{"--live", "--rate", "30/m"}, want: DevLiveOptions{On: true, Rate: 0.5, Delay: 2 * time.Second}},
		{name: "bare number", args: []string{"--live", "--rate", "7", "--projector-delay", "0s"}, want: DevLiveOptions{On: true, Rate: 7}},
		{name: "rate without live", args: []string{"--rate", "5/s"}, wantErr: "--rate needs --live"},
		{name: "pause without live", args: []string{"--projector-pause"}, wantErr: "--projector-pause needs --live"},
		{name: "zero rate", args: []string{"--live", "--rate", "0/s"}, wantErr: `invalid --rate "0/s"`},
		{name: "per hour", args: []string{"--live", "--rate", "5/h"}, wantErr: "want N/s or N/m"},
		{name: "negative delay", args: []string{"--live", "--projector-delay", "-1s"}, wantErr: "invalid --projector-delay -1s"},
		{name: "negative events", args: []string{"--live", "--live-events", "-1"}, wantErr: "invalid --live-events -1"},
		{name: "future history", args: []string{"--live", "--now", "2999-01-01T00:00:00Z"}, wantErr: "--live writes events at the current time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(t, NewCmdDev, tt.args...)
			if tt.wantErr != "" {
				var fe *FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want a usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Live != tt.want {
				t.Errorf("Live = %+v, want %+v", got.Live, tt.want)
			}
		})
	}
}
