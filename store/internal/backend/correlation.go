package backend

import (
	"encoding/json"
	"fmt"
)

// PropertiesJSON is the stored form of an instance's promoted properties: a JSON object with
// its names sorted (encoding/json sorts map keys), so that equal sets have equal text and a
// persist that leaves them as they were is seen as no change; "{}" for none.
func PropertiesJSON(p map[string]string) (string, error) {
	if len(p) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ParseProperties reads what PropertiesJSON wrote: nil for none.
func ParseProperties(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var p map[string]string
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("bad properties %q: %w", s, err)
	}
	if len(p) == 0 {
		return nil, nil
	}
	return p, nil
}
