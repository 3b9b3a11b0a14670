package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
)

// The values of [tls] client_auth and min_version.
var (
	clientAuths = map[string]tls.ClientAuthType{
		"require":         tls.RequireAndVerifyClientCert,
		"verify_if_given": tls.VerifyClientCertIfGiven,
	}
	tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}
)

// tlsError is a TLS setting that does not load: field is the [tls] key
// ("cert", "key", "client_ca", "client_auth", "min_version"), or "" when
// the certificate and key do not match.
type tlsError struct {
	field, msg string
}

func (e *tlsError) Error() string { return e.msg }

// tlsFlagError names the flag of a TLS error.
func tlsFlagError(err error) string {
	var te *tlsError
	if errors.As(err, &te) && te.field != "" {
		return "--tls-" + strings.ReplaceAll(te.field, "_", "-") + ": " + te.msg
	}
	return "tls: " + err.Error()
}

// loadTLS reads the certificate, the key and the client CA that c names
// and checks its settings, giving the server's TLS configuration.
func loadTLS(c TLSConfig) (*tls.Config, error) {
	certPEM, err := os.ReadFile(c.Cert)
	if err != nil {
		return nil, &tlsError{"cert", err.Error()}
	}
	keyPEM, err := os.ReadFile(c.Key)
	if err != nil {
		return nil, &tlsError{"key", err.Error()}
	}
	if !hasPEM(certPEM, "CERTIFICATE") {
		return nil, &tlsError{"cert", c.Cert + ": no PEM certificate in it"}
	}
	if !hasPEM(keyPEM, "PRIVATE KEY") {
		return nil, &tlsError{"key", c.Key + ": no PEM private key in it"}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &tlsError{"", fmt.Sprintf("%s, %s: %s", c.Cert, c.Key, strings.TrimPrefix(err.Error(), "tls: "))}
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.MinVersion != "" {
		v, ok := tlsVersions[c.MinVersion]
		if !ok {
			return nil, &tlsError{"min_version", fmt.Sprintf("want \"1.2\" or \"1.3\", got %q", c.MinVersion)}
		}
		cfg.MinVersion = v
	}
	if c.ClientAuth != "" && c.ClientCA == "" {
		return nil, &tlsError{"client_auth", "needs a client CA (client_ca, --tls-client-ca) to check certificates against"}
	}
	if c.ClientCA != "" {
		caPEM, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, &tlsError{"client_ca", err.Error()}
		}
		pool := x509.NewCertPool()
		if !hasPEM(caPEM, "CERTIFICATE") || !pool.AppendCertsFromPEM(caPEM) {
			return nil, &tlsError{"client_ca", c.ClientCA + ": no PEM certificate in it"}
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if c.ClientAuth != "" {
			auth, ok := clientAuths[c.ClientAuth]
			if !ok {
				return nil, &tlsError{"client_auth", fmt.Sprintf("want \"require\" or \"verify_if_given\", got %q", c.ClientAuth)}
			}
			cfg.ClientAuth = auth
		}
	}
	return cfg, nil
}

// hasPEM reports whether data holds a PEM block whose type ends in kind.
func hasPEM(data []byte, kind string) bool {
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, kind) {
			return true
		}
	}
}

// reloadableTLS serves the TLS configuration loaded last: SIGHUP reads the
// files again, and a connection's handshake takes whatever is current, so
// renewed certificates apply without dropping anyone.
type reloadableTLS struct {
	files TLSConfig
	cur   atomic.Pointer[tls.Config]
}

// newReloadableTLS loads c.
func newReloadableTLS(c TLSConfig) (*reloadableTLS, error) {
	cfg, err := loadTLS(c)
	if err != nil {
		return nil, err
	}
	r := &reloadableTLS{files: c}
	r.cur.Store(cfg)
	return r, nil
}

// config is the server's TLS configuration: it hands each handshake the
// current one.
func (r *reloadableTLS) config() *tls.Config {
	return &tls.Config{
		MinVersion: r.cur.Load().MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load(), nil
		},
	}
}

// reload reads the files again. When they do not load, the old ones stay
// and the reason is logged.
func (r *reloadableTLS) reload(log *slog.Logger) {
	cfg, err := loadTLS(r.files)
	if err != nil {
		log.Error("TLS reload refused; the old certificate stays", "reason", tlsFlagError(err))
		return
	}
	r.cur.Store(cfg)
	log.Info("TLS reloaded", "cert", r.files.Cert)
}
