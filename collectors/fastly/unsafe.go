package fastly

import "unsafe"

// unsafeString views b as a string without copying; the result must not
// outlive b or be kept (it is only used for switch keys and number parsing).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
