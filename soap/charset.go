package soap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16BE = []byte{0xFE, 0xFF}
	bomUTF16LE = []byte{0xFF, 0xFE}
)

// errCharset reports a charset the package does not read.
type errCharset struct{ name string }

func (e errCharset) Error() string {
	return fmt.Sprintf("unsupported charset %q (supported: utf-8, utf-16, utf-16le, utf-16be)", e.name)
}

// toUTF8 converts a message body to UTF-8 following the HTTP charset parameter ("" means UTF-8)
// and the byte order mark, which wins when it names a UTF-16 form. The BOM is removed.
func toUTF8(b []byte, charset string) ([]byte, error) {
	cs := strings.ToLower(strings.Trim(strings.TrimSpace(charset), `"`))
	switch cs {
	case "", "utf-8", "utf8":
		switch {
		case bytes.HasPrefix(b, bomUTF16BE):
			return fromUTF16(b[2:], true)
		case bytes.HasPrefix(b, bomUTF16LE):
			return fromUTF16(b[2:], false)
		}
		return bytes.TrimPrefix(b, bomUTF8), nil
	case "utf-16", "utf16":
		switch {
		case bytes.HasPrefix(b, bomUTF16BE):
			return fromUTF16(b[2:], true)
		case bytes.HasPrefix(b, bomUTF16LE):
			return fromUTF16(b[2:], false)
		case len(b) >= 2 && b[0] != 0 && b[1] == 0:
			return fromUTF16(b, false) // no BOM: sniff "<\x00"
		}
		return fromUTF16(b, true) // RFC 2781: big-endian by default
	case "utf-16be", "utf-16le":
		be := cs == "utf-16be"
		own, other := bomUTF16LE, bomUTF16BE
		if be {
			own, other = bomUTF16BE, bomUTF16LE
		}
		if bytes.HasPrefix(b, other) {
			return nil, fmt.Errorf("byte order mark contradicts charset %q", cs)
		}
		return fromUTF16(bytes.TrimPrefix(b, own), be)
	}
	return nil, errCharset{cs}
}

func fromUTF16(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, errors.New("UTF-16 body has an odd number of bytes")
	}
	out := make([]byte, 0, len(b)/2)
	for i := 0; i < len(b); i += 2 {
		u := rune(b[i+1])<<8 | rune(b[i])
		if bigEndian {
			u = rune(b[i])<<8 | rune(b[i+1])
		}
		if utf16.IsSurrogate(u) {
			if u >= 0xDC00 || i+3 >= len(b) {
				return nil, errors.New("UTF-16 body has an unpaired surrogate")
			}
			u2 := rune(b[i+3])<<8 | rune(b[i+2])
			if bigEndian {
				u2 = rune(b[i+2])<<8 | rune(b[i+3])
			}
			r := utf16.DecodeRune(u, u2)
			if r == utf8.RuneError {
				return nil, errors.New("UTF-16 body has an unpaired surrogate")
			}
			out = utf8.AppendRune(out, r)
			i += 2
			continue
		}
		out = utf8.AppendRune(out, u)
	}
	if i := bytes.IndexRune(out, 0xFEFF); i == 0 {
		out = out[3:] // a BOM written after a charset-selected decode
	}
	return out, nil
}

// xmlCharsetReader is handed to the XML decoder for the encoding named in an XML declaration.
// The bytes are already UTF-8 by then (see toUTF8), so the Unicode encodings pass through; any
// other declared encoding is refused rather than misread.
func xmlCharsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "utf16", "us-ascii", "ascii":
		return r, nil
	}
	return nil, errCharset{label}
}
