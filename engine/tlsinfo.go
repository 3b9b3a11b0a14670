package engine

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"strings"
)

// TLSInfo is what a connection's TLS handshake settled, kept for the
// connection's life so that a handler can authorize by it.
type TLSInfo struct {
	// Version is the protocol version, e.g. "TLS 1.3".
	Version string
	// Cipher is the cipher suite, e.g. "TLS_AES_128_GCM_SHA256".
	Cipher string
	// ServerName is the name the client asked for (SNI), or "".
	ServerName string
	// Client is the client's verified certificate, or nil when it sent none.
	Client *ClientCert
}

// ClientCert describes a client certificate the server verified.
type ClientCert struct {
	// Subject and Issuer are distinguished names in RFC 2253 form,
	// e.g. "CN=ann,O=Example".
	Subject, Issuer string
	// SANs lists the subject alternative names: DNS names, e-mail
	// addresses, IP addresses and URIs, in that order.
	SANs []string
	// Serial is the serial number in upper-case hex, as nginx's
	// $ssl_client_serial.
	Serial string
	// FingerprintSHA256 is the SHA-256 of the certificate (DER), in
	// lower-case hex.
	FingerprintSHA256 string
}

// newTLSInfo summarizes cs; nil for a connection without TLS.
func newTLSInfo(cs *tls.ConnectionState) *TLSInfo {
	if cs == nil {
		return nil
	}
	info := &TLSInfo{
		Version:    tls.VersionName(cs.Version),
		Cipher:     tls.CipherSuiteName(cs.CipherSuite),
		ServerName: cs.ServerName,
	}
	// PeerCertificates without VerifiedChains would be a certificate
	// nobody checked (ClientAuth RequestClientCert): not one to trust.
	if len(cs.PeerCertificates) > 0 && len(cs.VerifiedChains) > 0 {
		info.Client = newClientCert(cs.PeerCertificates[0])
	}
	return info
}

func newClientCert(c *x509.Certificate) *ClientCert {
	sum := sha256.Sum256(c.Raw)
	cc := &ClientCert{
		Subject:           c.Subject.String(),
		Issuer:            c.Issuer.String(),
		Serial:            strings.ToUpper(c.SerialNumber.Text(16)),
		FingerprintSHA256: hex.EncodeToString(sum[:]),
	}
	cc.SANs = append(cc.SANs, c.DNSNames...)
	cc.SANs = append(cc.SANs, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		cc.SANs = append(cc.SANs, ip.String())
	}
	for _, u := range c.URIs {
		cc.SANs = append(cc.SANs, u.String())
	}
	return cc
}
