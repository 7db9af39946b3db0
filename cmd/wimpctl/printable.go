package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// printable is the one rule by which text output shows a value that came from the network
// (names, reasons, principals, variables, exceptions, fault texts): a value prints as one
// visible, unambiguous piece of one line, whatever it holds, so a reason cannot forge a
// tracking row or move the cursor. Escaped, in strconv.Quote's notation:
//
//   - the backslash itself, as \\ (so that an escape and the same characters typed are
//     told apart);
//   - line feed, carriage return and tab as \n, \r, \t; the other C0 controls
//     (U+0000–U+001F) and DEL (U+007F) as \xNN;
//   - the C1 controls (U+0080–U+009F: NEL U+0085, and CSI U+009B, which some terminals
//     obey), the line and paragraph separators U+2028 and U+2029, and the bidirectional
//     formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069, which
//     reorder what a terminal shows) as \uNNNN;
//   - a byte that is not UTF-8 as \xNN.
//
// Everything else, non-ASCII letters included, prints as it is. JSON output does not use this:
// encoding/json escapes by JSON's rules.
func printable(s string) string {
	if !strings.ContainsFunc(s, mustEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case mustEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// mustEscape reports whether printable escapes r.
func mustEscape(r rune) bool {
	switch {
	case r == '\\', r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
