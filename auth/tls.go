package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// TLSFiles are the PEM files of the server's TLS configuration.
type TLSFiles struct {
	Cert, Key string // the server's certificate (chain) and private key
	ClientCA  string // "" or CA certificates that client certificates are verified against
}

// TLS is the server's TLS configuration, whose certificate and client CAs Reload replaces
// without a restart (connections already open keep theirs).
type TLS struct {
	files TLSFiles
	cert  atomic.Pointer[tls.Certificate]
	cas   atomic.Pointer[x509.CertPool]
}

// LoadTLS reads files.
func LoadTLS(files TLSFiles) (*TLS, error) {
	t := &TLS{files: files}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload reads the files again; on an error the configuration in use stays as it was.
func (t *TLS) Reload() error {
	cert, err := tls.LoadX509KeyPair(t.files.Cert, t.files.Key)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", t.files.Cert, t.files.Key, err)
	}
	var pool *x509.CertPool
	if t.files.ClientCA != "" {
		pem, err := os.ReadFile(t.files.ClientCA)
		if err != nil {
			return fmt.Errorf("client CA: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return errors.New("client CA " + t.files.ClientCA + ": no PEM certificate found")
		}
	}
	t.cert.Store(&cert)
	t.cas.Store(pool)
	return nil
}

// VerifiesClients reports whether client certificates are requested and verified.
func (t *TLS) VerifiesClients() bool { return t.files.ClientCA != "" }

// Config is the tls.Config to serve with: TLS 1.2 or later, the current certificate, and with
// client CAs, client certificates requested and verified when given (a client without one may
// still authenticate with a password).
func (t *TLS) Config() *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}, Certificates: []tls.Certificate{*t.cert.Load()}}
		if pool := t.cas.Load(); pool != nil {
			c.ClientAuth, c.ClientCAs = tls.VerifyClientCertIfGiven, pool
		}
		return c, nil
	}
	return base
}
