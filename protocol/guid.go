package protocol

import (
	"errors"
	"strings"
	"unicode"

	"github.com/google/uuid"
)

//lint:ignore ST1005 the text is .NET's Guid.Parse message, which clients may recognise
var errGUIDFormat = errors.New("Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")

// ParseGUID parses a GUID in every form .NET's Guid.Parse accepts, after trimming surrounding
// white space: "N" (32 hex digits), "D" (8-4-4-4-12), "B" ({D}), "P" ((D)) and "X"
// ({0xXXXXXXXX,0xXXXX,0xXXXX,{0xXX,...8 bytes}}, white space allowed anywhere). Hex is case-insensitive.
func ParseGUID(s string) (uuid.UUID, error) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	switch {
	case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && strings.Contains(s, ","):
		return parseGUIDX(s)
	case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"),
		strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")"):
		return parseGUIDD(s[1 : len(s)-1])
	case strings.Contains(s, "-"):
		return parseGUIDD(s)
	default:
		return parseGUIDN(s)
	}
}

func parseGUIDD(s string) (uuid.UUID, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return uuid.UUID{}, errGUIDFormat
	}
	return parseGUIDN(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
}

func parseGUIDN(s string) (uuid.UUID, error) {
	var u uuid.UUID
	if len(s) != 32 {
		return u, errGUIDFormat
	}
	for i := range 16 {
		hi, ok1 := hexVal(s[2*i])
		lo, ok2 := hexVal(s[2*i+1])
		if !ok1 || !ok2 {
			return u, errGUIDFormat
		}
		u[i] = hi<<4 | lo
	}
	return u, nil
}

// parseGUIDX parses {0xXXXXXXXX,0xXXXX,0xXXXX,{0xXX,0xXX,0xXX,0xXX,0xXX,0xXX,0xXX,0xXX}}.
// Like .NET, it removes all white space first and allows fewer digits than the maximum.
func parseGUIDX(s string) (uuid.UUID, error) {
	var u uuid.UUID
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	//lint:ignore ST1005 worded like .NET's Guid.Parse messages
	errX := errors.New("Guid in the {0x...} format is malformed")
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}}") {
		return u, errX
	}
	head, tail, ok := strings.Cut(s[1:len(s)-2], ",{")
	if !ok {
		return u, errX
	}
	fields := strings.Split(head, ",")
	bytes := strings.Split(tail, ",")
	if len(fields) != 3 || len(bytes) != 8 {
		return u, errX
	}
	widths := []int{8, 4, 4}
	pos := 0
	for i, f := range fields {
		v, ok := hexNumber(f, widths[i])
		if !ok {
			return u, errX
		}
		for b := widths[i]/2 - 1; b >= 0; b-- {
			u[pos+b] = byte(v)
			v >>= 8
		}
		pos += widths[i] / 2
	}
	for _, f := range bytes {
		v, ok := hexNumber(f, 2)
		if !ok {
			return u, errX
		}
		u[pos] = byte(v)
		pos++
	}
	return u, nil
}

// hexNumber parses "0x" followed by 1..maxDigits hex digits.
func hexNumber(s string, maxDigits int) (uint64, bool) {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || len(s)-2 > maxDigits {
		return 0, false
	}
	var v uint64
	for i := 2; i < len(s); i++ {
		d, ok := hexVal(s[i])
		if !ok {
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
