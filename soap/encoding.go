package soap

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
)

var errTooLarge = errors.New("the decompressed message exceeds the size limit")

// decodeContent undoes a request's Content-Encoding (gzip or deflate, as some SOAP stacks send
// with compression enabled). The size limit applies to the decompressed message too, so a small
// compressed body cannot expand without bound.
func decodeContent(raw []byte, encoding string, limit int64) ([]byte, error) {
	var r io.Reader
	var err error
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(raw))
	default:
		return nil, fmt.Errorf("Content-Encoding %q is not supported (gzip, deflate or none)", encoding)
	}
	if err != nil {
		return nil, fmt.Errorf("the %s body cannot be decompressed: %v", encoding, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("the %s body cannot be decompressed: %v", encoding, err)
	}
	if int64(len(out)) > limit {
		return nil, errTooLarge
	}
	return out, nil
}
