//go:build unix

package originlog

import (
	"os"
	"syscall"
)

// fileID returns the device and inode of fi, which stay with a file when
// it is renamed.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // types differ by platform
	}
	return 0, 0
}

// lockFile takes an exclusive, non-blocking lock on f, so a cron run and a
// daemon cannot read the same logs at once and both advance the offsets.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
