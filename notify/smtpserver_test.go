package notify

import (
	"testing"

	"github.com/freshtrack/freshtrack/internal/deliverytest"
)

// The local SMTP server lives in internal/deliverytest so that other
// packages' end-to-end tests (api, cmd) can use it too.
type (
	smtpServer   = deliverytest.SMTPServer
	receivedMail = deliverytest.Mail
)

func startSMTPServer(t *testing.T, configure func(*smtpServer)) *smtpServer {
	return deliverytest.StartSMTP(t, configure)
}
