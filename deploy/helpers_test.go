package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built is the freshtrack binary, built once per test process from this
// tree: the configuration files are checked against what it really reads
// and exports.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

func freshtrackBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "freshtrack-deploy-")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "freshtrack")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, "../cmd/freshtrack").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build freshtrack: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// requireTool returns the path of an external program the test runs, or
// skips the test saying how to install it. With env (TEST_<THING>_REQUIRED)
// set, as CI sets it, a missing program fails the test instead.
func requireTool(t *testing.T, name, env, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv(env) != "" {
		t.Fatalf("%s is required (%s) but not on PATH: %s", name, env, install)
	}
	t.Skipf("%s not installed, so not checked (%s; set %s=1 to fail instead)", name, install, env)
	return ""
}

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var envFlag = regexp.MustCompile(`\[\$([A-Z][A-Z0-9_]*)\]`)

// serveVariables returns the environment variables `freshtrack serve`
// reads, from its --help (every flag names its variable), plus PGPASSWORD,
// which pgx reads for URLs that carry no password.
func serveVariables(t *testing.T) map[string]bool {
	t.Helper()
	help := run(t, nil, freshtrackBinary(t), "serve", "--help")
	vars := map[string]bool{"PGPASSWORD": true}
	for _, m := range envFlag.FindAllStringSubmatch(help, -1) {
		vars[m[1]] = true
	}
	if !vars["DATABASE_URL"] || !vars["FRESHTRACK_ROLE"] {
		t.Fatalf("serve --help names no DATABASE_URL or FRESHTRACK_ROLE; has its format changed?\n%s", help)
	}
	return vars
}

// checkVariables reports each name in used (name -> where) that serve does
// not read.
func checkVariables(t *testing.T, known map[string]bool, used map[string]string) {
	t.Helper()
	var bad []string
	for name, where := range used {
		if !known[name] {
			bad = append(bad, name+" ("+where+")")
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("variables freshtrack serve does not read: %s", strings.Join(bad, ", "))
	}
}

// syncBuffer collects a child process's output while a test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newDatabaseURL is a migrated database of the test's storage mode.
func newDatabaseURL(t *testing.T) string {
	t.Helper()
	url, _ := pgtest.NewDBURL(t)
	return url
}
