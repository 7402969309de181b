// Package all links every vendor collector into the binary: one file per
// vendor, each a blank import, so adding a vendor never edits a shared file.
package all
