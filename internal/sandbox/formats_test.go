package sandbox_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/schema"
)

// The Protobuf and JSON Schema topics decode through the registry, as
// evctl reads them: every transfer a TransferRequested whose withdrawal
// shares its correlation id, every profile valid against its schema.
func TestTransfersAndProfilesDecode(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 20, Events: 600}
	s := start(t, opts)
	reg, err := schema.NewRegistryClient(schema.RegistryConfig{URL: s.RegistryURL(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schema.NewDecoder(schema.DecoderOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	withdrawals := map[string]int64{} // correlation id → cents of the "transfer out" withdrawals
	for e := range sandbox.Events(s.Options()) {
		if e.Type == sandbox.TypeMoneyWithdrawn && e.Reference == "transfer out" {
			withdrawals[e.CorrelationID] = e.AmountCents
		}
	}
	transfers := consume(t, s, sandbox.TopicTransfers)
	if len(transfers) == 0 || len(transfers) != len(withdrawals) {
		t.Fatalf("%d transfers, want one per transfer-out withdrawal (%d)", len(transfers), len(withdrawals))
	}
	for _, r := range transfers {
		rec := dec.Decode(ctx, message(r))
		if rec.Error != "" || rec.Type != sandbox.TypeTransferRequested || rec.Schema.Subject != sandbox.SubjectTransfersValue {
			t.Fatalf("transfer %d: type %q, schema %+v, error %q", r.Offset, rec.Type, rec.Schema, rec.Error)
		}
		var v struct {
			From   string `json:"fromAccount"`
			To     string `json:"toAccount"`
			Amount struct {
				Currency string `json:"currencyCode"`
				Units    string `json:"units"`
				Nanos    int64  `json:"nanos"`
			} `json:"amount"`
			RequestedAt string `json:"requestedAt"`
		}
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			t.Fatal(err)
		}
		var corr string
		for _, h := range rec.Headers {
			if h.Key == sandbox.HeaderCorrelationID {
				corr = h.Value
			}
		}
		cents, ok := withdrawals[corr]
		units, err := strconv.ParseInt(v.Amount.Units, 10, 64) // protojson writes int64 as a string
		if !ok || err != nil || units*100+v.Amount.Nanos/10_000_000 != cents ||
			v.From != string(r.Key) || v.To == v.From || !strings.HasPrefix(v.To, "acct-") || v.Amount.Currency == "" ||
			v.RequestedAt != r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("transfer %s (correlation %s, withdrawal of %d cents): %s", r.Key, corr, cents, rec.Value)
		}
	}

	profiles := consume(t, s, sandbox.TopicCustomerProfiles)
	if len(profiles) != opts.Accounts {
		t.Fatalf("%d profiles, want one per account (%d)", len(profiles), opts.Accounts)
	}
	tiers := map[string]int{}
	for _, r := range profiles {
		rec := dec.Decode(ctx, message(r))
		if rec.Error != "" || rec.Type != "CustomerProfile" || rec.ValueEncoding != record.EncodingJSONSchema {
			t.Fatalf("profile %d: type %q, encoding %s, error %q", r.Offset, rec.Type, rec.ValueEncoding, rec.Error)
		}
		s, err := reg.SchemaByID(ctx, rec.Schema.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateJSON(rec.Value); err != nil {
			t.Errorf("profile %s does not match its schema: %v: %s", r.Key, err, rec.Value)
		}
		var p sandbox.CustomerProfile
		if err := json.Unmarshal(rec.Value, &p); err != nil || p.AccountID != string(r.Key) {
			t.Errorf("profile %s: %v: %s", r.Key, err, rec.Value)
		}
		tiers[p.Tier]++
	}
	if len(tiers) < 2 {
		t.Errorf("tiers %v: want more than one", tiers)
	}
}
