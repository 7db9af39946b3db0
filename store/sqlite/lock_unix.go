//go:build unix

package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

var errLocked = errors.New("locked by another process")

// lockFile takes an exclusive flock, without waiting, on the file beside the database that
// marks it in use ("<db>-lock", next to SQLite's -wal and -shm, after resolving symbolic links
// so two spellings of one database meet at one lock). The kernel drops the lock when the
// process dies. It is a file of its own because closing any descriptor of the database file
// would drop the POSIX locks SQLite holds on it.
func lockFile(path string) (*os.File, error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	f, err := os.OpenFile(path+"-lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}
