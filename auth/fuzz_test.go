package auth

import (
	"strings"
	"testing"

	"github.com/wimp-project/wimp/host"
)

// FuzzParseUsers: any users file is either refused with an error naming its line, or parsed
// into users with a name, a role and no secret in any error.
func FuzzParseUsers(f *testing.F) {
	for _, s := range []string{
		"ada:$2a$04$5yGqkcO0q1yqDnJk7JmOXu1YCbs1K1IlqW6ZQ3HmZ6vIYwOqAzFPq:admin\n",
		"# c\n\ncarol:-:reader,operator\n",
		"a:b\n", ":-:admin\n", "x:-:root\n", "x:-:\n", "x:-:admin\nx:-:admin\n",
		"ada:$2y$10$" + strings.Repeat("a", 53) + ":admin", "\x00:-:admin", "a b:-:admin",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		u, err := ParseUsers(strings.NewReader(text), "users")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "users") {
				t.Fatalf("an error that does not name the file: %v", err)
			}
			return
		}
		for name, user := range u.byName {
			if name == "" || user.Name != name || user.Role < host.Reader || user.Role > host.Admin {
				t.Fatalf("parsed %q into %+v", text, user)
			}
		}
	})
}
