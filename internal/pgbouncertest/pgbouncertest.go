// Package pgbouncertest starts a real PgBouncer in transaction mode in front
// of a test database, so that tests can run FreshTrack the way a deployment
// behind a transaction pooler does: nothing lasts beyond a transaction
// (prepared statements, LISTEN, session locks and settings). It keeps
// several server connections and hands them out in turn, so that a
// client's consecutive transactions really do run on different ones and
// reliance on a session fails at once, not only under load.
//
// PgBouncer comes from Debian's pgbouncer package (1.18 on this Debian,
// which has no prepared-statement support in transaction mode). Without the
// binary a test is skipped, saying why, unless TEST_PGBOUNCER_REQUIRED is
// set (CI sets it), in which case it fails.
//
// It is for tests only; the server must never import it.
package pgbouncertest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Bouncer is one running PgBouncer.
type Bouncer struct {
	addr string
	cmd  *exec.Cmd
	logs *logBuffer
	done chan struct{} // closed when the process has exited
}

// binary finds pgbouncer on PATH or where Debian installs it, skipping or
// failing the test when it is in neither place.
func binary(t testing.TB) string {
	t.Helper()
	if bin, err := exec.LookPath("pgbouncer"); err == nil {
		return bin
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer"
	}
	if os.Getenv("TEST_PGBOUNCER_REQUIRED") != "" {
		t.Fatal("pgbouncer is required (TEST_PGBOUNCER_REQUIRED) but is neither on PATH nor in /usr/sbin: apt-get install pgbouncer")
	}
	t.Skip("pgbouncer is not installed (apt-get install pgbouncer): not tested through a transaction pooler")
	return ""
}

// Start starts PgBouncer on a free loopback port with pool_mode=transaction
// in front of the database of dbURL (a postgres:// URL such as pgtest's),
// and stops it at cleanup. PgBouncer logs in to the server as dbURL's user
// (and password); its clients authenticate with any name (auth_type=any).
// It refuses to run as root, so as root it runs as the postgres user.
func Start(t testing.TB, dbURL string) *Bouncer {
	t.Helper()
	bin := binary(t)
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		t.Fatalf("pgbouncertest: %q is not a postgres:// URL", dbURL)
	}
	var runAs []string
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			t.Fatalf("pgbouncertest: pgbouncer refuses to run as root and there is no postgres user to run it as: %v", err)
		}
		runAs = []string{"-u", "postgres"}
	}
	// The configuration is read after PgBouncer switched to the postgres
	// user, so it lives in a directory of its own that user can read, not
	// in t.TempDir (whose parent only root may enter).
	dir, err := os.MkdirTemp("", "pgbouncertest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The port is free when asked for, and may be taken before PgBouncer
	// binds it: then it exits at once, and the next attempt takes another.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		ini := filepath.Join(dir, "pgbouncer.ini")
		if err := os.WriteFile(ini, []byte(config(u, port)), 0o644); err != nil {
			t.Fatal(err)
		}
		b := &Bouncer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), logs: &logBuffer{}, done: make(chan struct{})}
		b.cmd = exec.Command(bin, append(runAs, ini)...)
		b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
		if err := b.cmd.Start(); err != nil {
			t.Fatalf("pgbouncertest: start %s: %v", bin, err)
		}
		go func() { _ = b.cmd.Wait(); close(b.done) }()
		if lastErr = b.waitReady(10 * time.Second); lastErr == nil {
			lastErr = b.spread(b.URL(dbURL))
		}
		if lastErr == nil {
			t.Cleanup(b.stop)
			return b
		}
		b.stop()
	}
	t.Fatalf("pgbouncertest: pgbouncer did not start: %v", lastErr)
	return nil
}

// config is PgBouncer's configuration: one database, the test's, in
// transaction mode. No Unix socket (Debian's own PgBouncer service may
// hold /var/run/postgresql's), no log or pid file (it runs in the
// foreground and logs to stderr).
func config(u *url.URL, port int) string {
	name := strings.TrimPrefix(u.Path, "/")
	conn := []string{"host=" + u.Hostname(), "dbname=" + name}
	if p := u.Port(); p != "" {
		conn = append(conn, "port="+p)
	}
	if u.User != nil {
		conn = append(conn, "user="+u.User.Username())
		if pw, ok := u.User.Password(); ok {
			conn = append(conn, "password="+pw)
		}
	}
	return fmt.Sprintf(`[databases]
%s = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
admin_users = postgres
pool_mode = transaction
max_client_conn = 500
default_pool_size = 10
server_round_robin = 1
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
`, name, strings.Join(conn, " "), port)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until the admin console answers.
func (b *Bouncer) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-b.done:
			return fmt.Errorf("pgbouncer exited: %s", b.logs)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := b.admin(ctx)
		if err == nil {
			_, err = conn.Exec(ctx, "SHOW VERSION")
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within %v: %v\n%s", b.addr, timeout, err, b.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serverConns is how many server connections spread opens.
const serverConns = 4

// spread makes PgBouncer open serverConns server connections, by holding
// as many transactions at once: with server_round_robin, a client's next
// transactions then go to each in turn, so whatever wrongly relies on a
// session breaks at once in a test rather than under load in production
// (PgBouncer's default reuses the last server, which hides it).
func (b *Bouncer) spread(dbURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var txs []pgx.Tx
	defer func() {
		for _, tx := range txs {
			_ = tx.Rollback(context.Background())
			tx.Conn().Close(context.Background())
		}
	}()
	for range serverConns {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return fmt.Errorf("connect through pgbouncer: %w", err)
		}
		tx, err := conn.Begin(ctx)
		if err == nil {
			_, err = tx.Exec(ctx, "SELECT 1")
		}
		if err != nil {
			conn.Close(context.Background())
			return fmt.Errorf("open a transaction through pgbouncer: %w", err)
		}
		txs = append(txs, tx)
	}
	return nil
}

// stop asks PgBouncer to shut down (SIGTERM: at once, in 1.18) and kills
// it if it has not within a few seconds.
func (b *Bouncer) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// URL returns dbURL with its host and port replaced by PgBouncer's: the
// same database, through the pooler.
func (b *Bouncer) URL(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(fmt.Sprintf("pgbouncertest: %v", err))
	}
	u.Host = b.addr
	return u.String()
}

// Logs returns what PgBouncer logged so far, for failure messages.
func (b *Bouncer) Logs() string { return b.logs.String() }

// admin connects to PgBouncer's admin console, which speaks the simple
// query protocol only.
func (b *Bouncer) admin(ctx context.Context) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig("postgres://postgres@" + b.addr + "/pgbouncer?sslmode=disable")
	if err != nil {
		return nil, err
	}
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cc)
}

// Show runs an admin console command such as "SHOW STATS" and returns its
// rows, each column by name as PgBouncer printed it.
func (b *Bouncer) Show(t testing.TB, command string) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := b.admin(ctx)
	if err != nil {
		t.Fatalf("pgbouncertest: admin console: %v", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, command)
	if err != nil {
		t.Fatalf("pgbouncertest: %s: %v", command, err)
	}
	defer rows.Close()
	var out []map[string]string
	for rows.Next() {
		row := map[string]string{}
		for i, f := range rows.FieldDescriptions() {
			row[f.Name] = string(rows.RawValues()[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("pgbouncertest: %s: %v", command, err)
	}
	return out
}

// Stats are PgBouncer's totals for one database since it started.
type Stats struct {
	// Transactions and Queries are the transactions and statements that
	// clients ran through PgBouncer (total_xact_count, total_query_count).
	Transactions, Queries int64
}

// Stats returns SHOW STATS's totals for database, zero when it has none.
func (b *Bouncer) Stats(t testing.TB, database string) Stats {
	t.Helper()
	for _, row := range b.Show(t, "SHOW STATS") {
		if row["database"] != database {
			continue
		}
		var s Stats
		var err error
		s.Transactions, err = strconv.ParseInt(row["total_xact_count"], 10, 64)
		if err == nil {
			s.Queries, err = strconv.ParseInt(row["total_query_count"], 10, 64)
		}
		if err != nil {
			t.Fatalf("pgbouncertest: SHOW STATS row %v: %v", row, err)
		}
		return s
	}
	return Stats{}
}

// DatabaseName returns the database of a postgres:// URL.
func DatabaseName(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// logBuffer collects PgBouncer's output from its two pipes.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
