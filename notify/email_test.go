package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"
)

func newTestSMTP(t *testing.T, port int) *SMTP {
	t.Helper()
	s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, From: "FreshTrack Alerts <alerts@freshtrack.example>", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var emailMessage = Message{
	Channel: Email,
	To:      "chef@kitchen.example",
	Subject: "[FreshTrack] CRITICAL: Walk-in 9.4°C, above the 5.0°C limit",
	Text:    "CRITICAL alert\n\nUnit: Walk-in\nCondition: 9.4°C, above the 5.0°C limit\n",
	HTML:    `<p><b>CRITICAL</b> Walk-in at 9.4°C</p>`,
}

func TestSMTPSend(t *testing.T) {
	t.Parallel()
	srv := startSMTPServer(t, nil)
	s := newTestSMTP(t, srv.Port())
	rcpt, err := s.Send(context.Background(), emailMessage)
	if err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails received, want 1", len(mails))
	}
	got := mails[0]
	if got.From != "alerts@freshtrack.example" || len(got.To) != 1 || got.To[0] != "chef@kitchen.example" {
		t.Fatalf("envelope from %q to %q", got.From, got.To)
	}

	msg, err := mail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != emailMessage.Subject {
		t.Fatalf("Subject %q (%v), want %q", subject, err, emailMessage.Subject)
	}
	if to := msg.Header.Get("To"); !strings.Contains(to, "chef@kitchen.example") {
		t.Fatalf("To header %q", to)
	}
	if from := msg.Header.Get("From"); !strings.Contains(from, "alerts@freshtrack.example") {
		t.Fatalf("From header %q", from)
	}
	if id := msg.Header.Get("Message-Id"); rcpt.ProviderID == "" || id != "<"+rcpt.ProviderID+">" {
		t.Fatalf("Message-ID header %q, receipt %q", id, rcpt.ProviderID)
	}
	if !strings.HasSuffix(rcpt.ProviderID, "@freshtrack.example") {
		t.Fatalf("Message-ID %q not in the sender's domain", rcpt.ProviderID)
	}

	parts := map[string]string{}
	collectParts(t, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, parts)
	if len(parts) != 2 {
		t.Fatalf("parts %v, want text/plain and text/html", parts)
	}
	if parts["text/plain"] != emailMessage.Text {
		t.Fatalf("text part %q, want %q", parts["text/plain"], emailMessage.Text)
	}
	if parts["text/html"] != emailMessage.HTML {
		t.Fatalf("html part %q, want %q", parts["text/html"], emailMessage.HTML)
	}
	if ct, _, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); ct != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", ct)
	}
}

// collectParts walks a MIME body and records each leaf part's decoded
// content by media type. (mime/multipart decodes quoted-printable parts
// itself and drops their Content-Transfer-Encoding.)
func collectParts(t *testing.T, contentType, encoding string, body io.Reader, into map[string]string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatalf("Content-Type %q: %v", contentType, err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		switch strings.ToLower(encoding) {
		case "quoted-printable":
			body = quotedprintable.NewReader(body)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		into[mt] = string(b)
		return
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		collectParts(t, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, into)
	}
}

func TestSMTPSendPlainTextOnly(t *testing.T) {
	t.Parallel()
	srv := startSMTPServer(t, nil)
	s := newTestSMTP(t, srv.Port())
	m := emailMessage
	m.HTML = ""
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(srv.Mails()[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]string{}
	collectParts(t, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, parts)
	if len(parts) != 1 || parts["text/plain"] != m.Text {
		t.Fatalf("parts %v, want the text alone", parts)
	}
}

func TestSMTPPermanentRejection(t *testing.T) {
	t.Parallel()
	srv := startSMTPServer(t, func(s *smtpServer) {
		s.RcptReply = func(addr string) string {
			if addr == "nobody@kitchen.example" {
				return "550 5.1.1 <nobody@kitchen.example>: Recipient address rejected: User unknown"
			}
			return ""
		}
	})
	s := newTestSMTP(t, srv.Port())
	m := emailMessage
	m.To = "nobody@kitchen.example"
	_, err := s.Send(context.Background(), m)
	if !IsPermanent(err) {
		t.Fatalf("error %v, want a permanent one", err)
	}
	var se *SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != "5.1.1" {
		t.Fatalf("error %v (%#v), want an *SMTPError 550 5.1.1", err, se)
	}
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("%d mails accepted", n)
	}
}

func TestSMTPTemporaryRejection(t *testing.T) {
	t.Parallel()
	srv := startSMTPServer(t, func(s *smtpServer) {
		s.RcptReply = func(string) string { return "451 4.7.1 Greylisted, please try again later" }
	})
	s := newTestSMTP(t, srv.Port())
	_, err := s.Send(context.Background(), emailMessage)
	var se *SMTPError
	if err == nil || IsPermanent(err) || !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("error %v, want a retryable *SMTPError 451", err)
	}
}

func TestSMTPRejectedData(t *testing.T) {
	t.Parallel()
	srv := startSMTPServer(t, func(s *smtpServer) { s.DataReply = "554 5.7.1 Message rejected as spam" })
	s := newTestSMTP(t, srv.Port())
	_, err := s.Send(context.Background(), emailMessage)
	if !IsPermanent(err) {
		t.Fatalf("error %v, want a permanent one", err)
	}
}

func TestSMTPConnectionErrorIsRetryable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens there now
	s := newTestSMTP(t, port)
	_, err = s.Send(context.Background(), emailMessage)
	if err == nil || IsPermanent(err) {
		t.Fatalf("error %v, want a retryable one", err)
	}
}

func TestSMTPBadAddressIsPermanent(t *testing.T) {
	t.Parallel()
	srv := startSMTPServer(t, nil)
	s := newTestSMTP(t, srv.Port())
	for _, to := range []string{"", "not an address", "+15550002222"} {
		m := emailMessage
		m.To = to
		if _, err := s.Send(context.Background(), m); !IsPermanent(err) {
			t.Fatalf("Send to %q: %v, want a permanent error", to, err)
		}
	}
}

func TestNewSMTPValidates(t *testing.T) {
	t.Parallel()
	f := func(cfg SMTPConfig, field string) {
		t.Helper()
		_, err := NewSMTP(cfg)
		if field == "" {
			if err != nil {
				t.Fatalf("NewSMTP(%+v): %v", cfg, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Fatalf("NewSMTP(%+v) error %v, want one naming %s", cfg, err, field)
		}
	}
	ok := SMTPConfig{Host: "smtp.example", From: "alerts@example.com", Username: "u", Password: "hunter2"}
	f(ok, "")
	bad := ok
	bad.Host = ""
	f(bad, "Host")
	bad = ok
	bad.From = "alerts"
	f(bad, "From")
	bad = ok
	bad.TLS = "ssl"
	f(bad, "TLS")
	bad = ok
	bad.Port = 70000
	f(bad, "Port")

	if c := ok.WithDefaults(); c.Port != 587 || c.TLS != TLSStartTLS || c.Timeout != DefaultSMTPTimeout {
		t.Fatalf("defaults %+v", c)
	}
	if c := (SMTPConfig{TLS: "tls"}).WithDefaults(); c.Port != 465 {
		t.Fatalf("implicit TLS default port %d, want 465", c.Port)
	}
	if v := ok.LogValue().String(); strings.Contains(v, "hunter2") {
		t.Fatalf("LogValue %q shows the password", v)
	}
}
