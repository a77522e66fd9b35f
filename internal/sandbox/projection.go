package sandbox

import _ "embed" // the projection spec ships inside the binary

// AccountBalanceProjection is the projection spec whose rebuild of
// bank.account-events equals bank.account-balances; evctl demo uses it.
// testdata/projections/account-balance.yaml is the same file, for users.
//
//go:embed projections/account-balance.yaml
var AccountBalanceProjection []byte
