// Package deliverytest runs local servers that speak the real protocols of
// FreshTrack's delivery providers, for tests in any package: an SMTP server
// (RFC 5321) that records the messages it accepts, and a Telnyx Messaging
// API v2 server that records the SMS it is asked to send.
package deliverytest

import (
	"errors"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// SMTPServer is a minimal SMTP server (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA,
// RSET, NOOP, QUIT) on a loopback listener. It records every message it
// accepts.
type SMTPServer struct {
	ln net.Listener
	// RcptReply returns the reply to RCPT TO for an address; "" accepts it.
	RcptReply func(addr string) string
	// DataReply is the reply after the message data; "" accepts it.
	DataReply string

	mu    sync.Mutex
	mails []Mail
	wg    sync.WaitGroup
}

// Mail is one message the server accepted.
type Mail struct {
	From string
	To   []string
	Data []byte
}

// StartSMTP starts an SMTP server on a loopback port, closed at the end of
// the test; configure may set its replies before it serves.
func StartSMTP(t *testing.T, configure func(*SMTPServer)) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{ln: ln}
	if configure != nil {
		configure(s)
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

// Port is the server's TCP port.
func (s *SMTPServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Mails returns the messages accepted so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

func (s *SMTPServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.session(textproto.NewConn(conn))
		}()
	}
}

// session serves one connection until QUIT or an error.
func (s *SMTPServer) session(c *textproto.Conn) {
	reply := func(lines ...string) bool {
		for _, l := range lines {
			if err := c.PrintfLine("%s", l); err != nil {
				return false
			}
		}
		return true
	}
	if !reply("220 localhost ESMTP freshtrack-test") {
		return
	}
	var cur Mail
	for {
		line, err := c.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		ok := true
		switch strings.ToUpper(verb) {
		case "EHLO":
			ok = reply("250-localhost greets "+arg, "250-8BITMIME", "250-ENHANCEDSTATUSCODES", "250 SIZE 10485760")
		case "HELO":
			ok = reply("250 localhost")
		case "MAIL":
			addr, err := pathArg(arg, "FROM:")
			if err != nil {
				ok = reply("501 5.5.4 " + err.Error())
				break
			}
			cur = Mail{From: addr}
			ok = reply("250 2.1.0 OK")
		case "RCPT":
			addr, err := pathArg(arg, "TO:")
			if err != nil {
				ok = reply("501 5.5.4 " + err.Error())
				break
			}
			if s.RcptReply != nil {
				if r := s.RcptReply(addr); r != "" {
					ok = reply(r)
					break
				}
			}
			cur.To = append(cur.To, addr)
			ok = reply("250 2.1.5 OK")
		case "DATA":
			if len(cur.To) == 0 {
				ok = reply("554 5.5.1 no valid recipients")
				break
			}
			if !reply("354 end data with <CR><LF>.<CR><LF>") {
				return
			}
			data, err := c.ReadDotBytes()
			if err != nil {
				return
			}
			if s.DataReply != "" {
				ok = reply(s.DataReply)
				break
			}
			cur.Data = data
			s.mu.Lock()
			s.mails = append(s.mails, cur)
			s.mu.Unlock()
			cur = Mail{}
			ok = reply("250 2.0.0 OK queued")
		case "RSET":
			cur = Mail{}
			ok = reply("250 2.0.0 OK")
		case "NOOP":
			ok = reply("250 2.0.0 OK")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			ok = reply("502 5.5.2 command not recognised")
		}
		if !ok {
			return
		}
	}
}

// pathArg extracts the address of "FROM:<a@b> PARAMS" or "TO:<a@b>".
func pathArg(arg, prefix string) (string, error) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", errors.New("syntax error in parameters")
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", errors.New("path must be in angle brackets")
	}
	addr, _, ok := strings.Cut(rest[1:], ">")
	if !ok {
		return "", errors.New("unterminated path")
	}
	return addr, nil
}
