//go:build !unix

package originlog

import "os"

// fileID has no inode to offer here; rotation is then told by the
// fingerprint and the size alone.
func fileID(fi os.FileInfo) (dev, ino uint64) { return 0, 0 }

// lockFile is a no-op where flock does not exist.
func lockFile(f *os.File) error { return nil }
