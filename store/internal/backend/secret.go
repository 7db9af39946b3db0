package backend

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/wimp-project/wimp/store"
)

// ClusterSecret is Store.ClusterSecret over a backend's read of the stored secret (false when
// there is none yet) and its insert that keeps a secret already stored: the first caller's
// random bytes win, and every caller then reads the same.
func ClusterSecret(ctx context.Context, read func(context.Context) ([]byte, bool, error), insert func(context.Context, []byte) error) ([]byte, error) {
	secret, ok, err := read(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		fresh := make([]byte, store.ClusterSecretSize)
		_, _ = rand.Read(fresh) // never fails (crypto/rand)
		if err := insert(ctx, fresh); err != nil {
			return nil, err
		}
		if secret, ok, err = read(ctx); err != nil {
			return nil, err
		}
	}
	if !ok || len(secret) != store.ClusterSecretSize {
		return nil, fmt.Errorf("store: the stored cluster secret is %d bytes, not %d", len(secret), store.ClusterSecretSize)
	}
	return secret, nil
}
