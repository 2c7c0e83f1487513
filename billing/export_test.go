package billing

// SetAfterSend makes every accepted meter event run f before it is
// recorded as sent: a crash there when f fails.
func SetAfterSend(s *Service, f func(identifier string) error) { s.afterSend = f }
