package soap

import (
	"errors"
	"mime"
	"strings"
)

// parseContentType reads a Content-Type. It tries the strict RFC 2045 grammar first, then a
// lenient split on ';' so that unquoted parameter values containing separators (clients send
// action=http://… unquoted) are still understood. Names are lower-cased.
func parseContentType(s string) (string, map[string]string, error) {
	mt, params, err := mime.ParseMediaType(s)
	if err == nil {
		return mt, params, nil
	}
	parts := strings.Split(s, ";")
	mt = strings.ToLower(strings.TrimSpace(parts[0]))
	if mt == "" || strings.Count(mt, "/") != 1 || strings.ContainsAny(mt, " \t\"") {
		return "", nil, errors.New("not a media type")
	}
	params = map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			continue
		}
		params[k] = unquote(v)
	}
	return mt, params, nil
}
