//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another process")

// lockFile has no flock here: a second process on the same database is not detected.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path+"-lock", os.O_RDWR|os.O_CREATE, 0o644)
}
