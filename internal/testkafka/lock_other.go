//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package testkafka

import "errors"

func lockFile(string) (func(), error) {
	return nil, errors.New("real tier: needs flock(2), which this system lacks")
}
