package pgtest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/schema"
)

// ReplicaRequiredEnv makes NewReplicaPair fail, rather than skip, a test on
// a machine where it cannot start a primary and a streaming replica. CI
// sets it.
const ReplicaRequiredEnv = "TEST_REPLICA_REQUIRED"

// ReplicaPair is a private PostgreSQL primary with a streaming replica of
// it, both on loopback with trust authentication, holding one migrated
// FreshTrack database. The test servers cannot serve for this: they have no
// replication entries in pg_hba.conf, and a test pauses and stops the
// replica.
type ReplicaPair struct {
	// Mode is the storage mode of the database.
	Mode schema.Mode
	// PrimaryURL and ReplicaURL address the database on each server.
	PrimaryURL, ReplicaURL string
	// Primary and Replica are pools on them, closed at cleanup.
	Primary, Replica *pgxpool.Pool

	t       testing.TB
	bin     string // the PostgreSQL binaries of the mode's test server
	dir     string // owns both data directories, the logs and the sockets
	owner   *user.User
	running map[string]bool // data directory -> started and not stopped
}

// NewReplicaPair starts a primary and a streaming replica of it (initdb,
// then pg_basebackup -R) with the binaries of the test server of the
// storage mode (DefaultMode unless WithMode says otherwise; they come from
// its pg_config, so timescale mode gets TimescaleDB's build), migrates a
// database on the primary with the schema package and waits until the
// replica has replayed it. As root the servers run as the postgres user.
// Both stop, and their files go, at cleanup.
//
// Starting the pair takes a few seconds, so a test shares one among
// sequential steps. Without the binaries (a remote test server, no
// postgres user) the test is skipped, saying why, unless
// TEST_REPLICA_REQUIRED is set, which makes it fail; a test server that does
// not answer fails it, as NewDB does.
func NewReplicaPair(t testing.TB, opts ...Option) *ReplicaPair {
	t.Helper()
	o := optionsOf(opts)
	if o.mode == schema.Timescale {
		RequireTimescale(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	server, err := connectAdmin(ctx, ServerURL(o.mode))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	bin, preload, err := serverBinaries(ctx, server)
	server.Close(context.Background())
	if err == nil {
		err = usableBinaries(bin)
	}
	var owner *user.User
	if err == nil && os.Geteuid() == 0 {
		if owner, err = user.Lookup("postgres"); err != nil {
			err = fmt.Errorf("running as root, the servers run as the postgres user: %w", err)
		} else if _, lerr := exec.LookPath("runuser"); lerr != nil {
			err = fmt.Errorf("running as root, the servers are started with runuser: %w", lerr)
		}
	}
	if err != nil {
		if os.Getenv(ReplicaRequiredEnv) != "" {
			t.Fatalf("pgtest: a primary with a streaming replica is required (%s) but cannot be started: %v", ReplicaRequiredEnv, err)
		}
		t.Skipf("replica test skipped: cannot start a primary with a streaming replica: %v (%s=1 makes this a failure)", err, ReplicaRequiredEnv)
	}

	dir, err := os.MkdirTemp("", "freshtrack-replica-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	p := &ReplicaPair{Mode: o.mode, t: t, bin: bin, dir: dir, owner: owner, running: map[string]bool{}}
	t.Cleanup(p.cleanup)
	p.own(dir)

	primary, replica := filepath.Join(dir, "primary"), filepath.Join(dir, "replica")
	p.run(ctx, "initdb", "-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '" + dir + "'",
		"fsync = off", // a throwaway cluster: nothing to keep after a crash
		"max_connections = 40",
		"shared_buffers = '32MB'",
		"max_wal_senders = 4",
		"shared_preload_libraries = '" + preload + "'",
	}
	if strings.Contains(preload, "timescaledb") {
		conf = append(conf, "timescaledb.telemetry_level = off")
	}
	// The replica's configuration is the primary's, copied by pg_basebackup.
	p.write(filepath.Join(primary, "postgresql.conf"), strings.Join(conf, "\n")+"\n", true)
	p.write(filepath.Join(primary, "pg_hba.conf"), strings.Join([]string{
		"local all all trust",
		"host all all 127.0.0.1/32 trust",
		"host replication all 127.0.0.1/32 trust",
	}, "\n")+"\n", false)
	primaryPort := p.start(ctx, primary)
	p.run(ctx, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primaryPort), "-U", "postgres",
		"-D", replica, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	replicaPort := p.start(ctx, replica)

	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", primaryPort)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to the private primary: %v", err)
	}
	_, err = conn.Exec(ctx, `CREATE DATABASE freshtrack`)
	conn.Close(context.Background())
	if err != nil {
		t.Fatalf("pgtest: create the database on the private primary: %v", err)
	}
	p.PrimaryURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/freshtrack?sslmode=disable", primaryPort)
	p.ReplicaURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/freshtrack?sslmode=disable", replicaPort)
	if p.Primary, err = pgxpool.New(ctx, p.PrimaryURL); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := schema.Up(ctx, p.Primary, schema.MigrateOptions{Storage: string(o.mode), Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatalf("pgtest: migrate the private primary in %s mode: %v", o.mode, err)
	}
	if p.Replica, err = pgxpool.New(ctx, p.ReplicaURL); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	p.WaitReplayed()
	return p
}

// serverBinaries asks a test server where its binaries are and which
// libraries it preloads (TimescaleDB's), so the private pair runs the same
// build.
func serverBinaries(ctx context.Context, conn *pgx.Conn) (bin, preload string, err error) {
	err = conn.QueryRow(ctx, `SELECT (SELECT setting FROM pg_config WHERE name = 'BINDIR'), current_setting('shared_preload_libraries')`).Scan(&bin, &preload)
	if err != nil {
		return "", "", fmt.Errorf("ask the test server for its binaries (pg_config): %w", err)
	}
	return bin, preload, nil
}

func usableBinaries(bin string) error {
	for _, name := range []string{"initdb", "pg_ctl", "pg_basebackup", "postgres"} {
		if _, err := exec.LookPath(filepath.Join(bin, name)); err != nil {
			return fmt.Errorf("the test server's binaries are not on this machine: %w", err)
		}
	}
	return nil
}

// command runs a PostgreSQL binary as the owner of the files: the postgres
// user when the test runs as root, which initdb and postgres refuse to be.
func (p *ReplicaPair) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	var cmd *exec.Cmd
	if p.owner != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.owner.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = p.dir
	return cmd
}

func (p *ReplicaPair) run(ctx context.Context, name string, args ...string) {
	p.t.Helper()
	if out, err := p.command(ctx, name, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("pgtest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// own gives path to the user the servers run as.
func (p *ReplicaPair) own(path string) {
	p.t.Helper()
	if p.owner == nil {
		return
	}
	uid, _ := strconv.Atoi(p.owner.Uid)
	gid, _ := strconv.Atoi(p.owner.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		p.t.Fatalf("pgtest: %v", err)
	}
}

func (p *ReplicaPair) write(path, text string, appending bool) {
	p.t.Helper()
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appending {
		flags = os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err == nil {
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		p.t.Fatalf("pgtest: write %s: %v", path, err)
	}
	p.own(path)
}

// start starts the server of data on a free loopback port and returns it
// once the server accepts connections (a standby: once it is consistent).
func (p *ReplicaPair) start(ctx context.Context, data string) int {
	p.t.Helper()
	var port int
	var out []byte
	var err error
	// A free port may be taken between the probe and the server's bind;
	// another one then does.
	for range 3 {
		if port, err = freePort(); err != nil {
			p.t.Fatalf("pgtest: %v", err)
		}
		out, err = p.command(ctx, "pg_ctl", "-D", data, "-l", data+".log", "-w", "-t", "120",
			"-o", "-p "+strconv.Itoa(port), "start").CombinedOutput()
		if err == nil {
			p.running[data] = true
			return port
		}
	}
	log, _ := os.ReadFile(data + ".log")
	p.t.Fatalf("pgtest: start %s: %v\n%s\n%s", filepath.Base(data), err, out, log)
	return 0
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitReplayed waits until the replica has replayed everything the primary
// had written when it was called.
func (p *ReplicaPair) WaitReplayed() { p.t.Helper(); p.waitFor("pg_last_wal_replay_lsn") }

// WaitReceived waits until the replica has received (not necessarily
// replayed) everything the primary had written when it was called.
func (p *ReplicaPair) WaitReceived() { p.t.Helper(); p.waitFor("pg_last_wal_receive_lsn") }

func (p *ReplicaPair) waitFor(position string) {
	p.t.Helper()
	ctx := context.Background()
	var lsn string
	if err := p.Primary.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		p.t.Fatalf("pgtest: primary WAL position: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var done bool
		err := p.Replica.QueryRow(ctx, `SELECT coalesce(`+position+`() >= $1::pg_lsn, false)`, lsn).Scan(&done)
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("pgtest: the replica did not reach the primary's WAL position %s (%s) within a minute: %v", lsn, position, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PauseReplay stops the replica applying the WAL it receives
// (pg_wal_replay_pause), so it trails the primary, and returns once replay
// is paused.
func (p *ReplicaPair) PauseReplay() {
	p.t.Helper()
	ctx := context.Background()
	if _, err := p.Replica.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		p.t.Fatalf("pgtest: pause replay: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var state string
		if err := p.Replica.QueryRow(ctx, `SELECT pg_get_wal_replay_pause_state()`).Scan(&state); err != nil {
			p.t.Fatalf("pgtest: replay pause state: %v", err)
		}
		if state == "paused" {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("pgtest: replay still %q a minute after pg_wal_replay_pause()", state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ResumeReplay lets the replica apply WAL again (pg_wal_replay_resume).
func (p *ReplicaPair) ResumeReplay() {
	p.t.Helper()
	if _, err := p.Replica.Exec(context.Background(), `SELECT pg_wal_replay_resume()`); err != nil {
		p.t.Fatalf("pgtest: resume replay: %v", err)
	}
}

// StopReplica shuts the replica down (pg_ctl stop -m fast): its sessions
// are terminated and new connections refused.
func (p *ReplicaPair) StopReplica() {
	p.t.Helper()
	data := filepath.Join(p.dir, "replica")
	p.run(context.Background(), "pg_ctl", "-D", data, "-w", "-m", "fast", "stop")
	delete(p.running, data)
}

func (p *ReplicaPair) cleanup() {
	for _, pool := range []*pgxpool.Pool{p.Primary, p.Replica} {
		if pool != nil {
			pool.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for data := range p.running {
		if out, err := p.command(ctx, "pg_ctl", "-D", data, "-w", "-m", "immediate", "stop").CombinedOutput(); err != nil {
			p.t.Errorf("pgtest: stop %s: %v\n%s", filepath.Base(data), err, out)
		}
	}
	_ = os.RemoveAll(p.dir)
}
