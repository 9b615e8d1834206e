package wslink

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves a certificate from files and loads them again when
// they change (a renewal by certbot or the like), checking their
// modification times at most once a second, on handshakes.
type certReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	modCert time.Time
	modKey  time.Time
	checked time.Time
	now     func() time.Time
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, now: time.Now}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func modTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// load reads both files; r.mu is held or r is not shared yet.
func (r *certReloader) load() error {
	mc, err := modTime(r.certFile)
	if err != nil {
		return fmt.Errorf("wslink: TLS certificate: %w", err)
	}
	mk, err := modTime(r.keyFile)
	if err != nil {
		return fmt.Errorf("wslink: TLS key: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("wslink: TLS: %w", err)
	}
	r.cert, r.modCert, r.modKey = &cert, mc, mk
	return nil
}

// get is tls.Config.GetCertificate. A failed reload (a renewal caught half
// written) keeps the certificate in use and tries again a second later.
func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.checked) >= time.Second {
		r.checked = now
		mc, errC := modTime(r.certFile)
		mk, errK := modTime(r.keyFile)
		if errC == nil && errK == nil && (!mc.Equal(r.modCert) || !mk.Equal(r.modKey)) {
			_ = r.load()
		}
	}
	return r.cert, nil
}
