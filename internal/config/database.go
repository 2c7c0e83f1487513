package config

import (
	"cmp"
	"net/url"
	"regexp"
	"strings"
)

// PooledDatabase reports whether DatabaseURL is a transaction pooler:
// whether a direct URL was given beside it. Its connections then carry one
// transaction at a time for whichever client, so nothing may rely on a
// session there: no named prepared statements, LISTEN, session advisory
// locks or session settings.
func (c *Config) PooledDatabase() bool { return c.DatabaseDirectURL != "" }

// SessionDatabaseURL is where what needs a session connects: the direct
// URL, or DatabaseURL when there is none.
func (c *Config) SessionDatabaseURL() string { return cmp.Or(c.DatabaseDirectURL, c.DatabaseURL) }

// keywordExecMode finds default_query_exec_mode in a key=value connection
// string.
var keywordExecMode = regexp.MustCompile(`(^|\s)default_query_exec_mode\s*=`)

// SetsQueryExecMode reports whether a connection string chooses pgx's
// query exec mode itself (default_query_exec_mode), which then wins over
// the one FreshTrack picks for a pooler.
func SetsQueryExecMode(connString string) bool {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		return err == nil && u.Query().Has("default_query_exec_mode")
	}
	return keywordExecMode.MatchString(connString)
}
