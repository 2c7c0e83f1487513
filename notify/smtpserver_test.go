package notify

import (
	"errors"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// smtpServer is a minimal SMTP server (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA,
// RSET, NOOP, QUIT) on a loopback listener. It records every message it
// accepts.
type smtpServer struct {
	ln net.Listener
	// rcptReply returns the reply to RCPT TO for an address; "" accepts it.
	rcptReply func(addr string) string
	// dataReply is the reply after the message data; "" accepts it.
	dataReply string

	mu    sync.Mutex
	mails []receivedMail
	wg    sync.WaitGroup
}

// receivedMail is one message the server accepted.
type receivedMail struct {
	From string
	To   []string
	Data []byte
}

func startSMTPServer(t *testing.T, configure func(*smtpServer)) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
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

func (s *smtpServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) Mails() []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.mails...)
}

func (s *smtpServer) accept() {
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
func (s *smtpServer) session(c *textproto.Conn) {
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
	var cur receivedMail
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
			cur = receivedMail{From: addr}
			ok = reply("250 2.1.0 OK")
		case "RCPT":
			addr, err := pathArg(arg, "TO:")
			if err != nil {
				ok = reply("501 5.5.4 " + err.Error())
				break
			}
			if s.rcptReply != nil {
				if r := s.rcptReply(addr); r != "" {
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
			if s.dataReply != "" {
				ok = reply(s.dataReply)
				break
			}
			cur.Data = data
			s.mu.Lock()
			s.mails = append(s.mails, cur)
			s.mu.Unlock()
			cur = receivedMail{}
			ok = reply("250 2.0.0 OK queued")
		case "RSET":
			cur = receivedMail{}
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
