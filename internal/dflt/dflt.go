// Package dflt applies the convention of the project's config structs: a
// zero (or negative) field means its default.
package dflt

import "cmp"

// Or returns v, or def when v is zero or negative.
func Or[T cmp.Ordered](v, def T) T {
	var zero T
	if v <= zero {
		return def
	}
	return v
}
